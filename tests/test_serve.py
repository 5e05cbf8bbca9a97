"""`warehouse serve` on the shared build: the JSON API, the downloads, the sandbox and the token
through real HTTP to a real uvicorn process, and the console in headless Chromium."""

from __future__ import annotations

import base64
import html
import io
import re
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import duckdb
import pandas as pd
import pytest
import requests

from bench.served import serving
from orchestration.analysts.serving.examples import example_queries
from orchestration.publishing.diff import summary_line
from tests.browser import driven
from tests.conftest import ADDED_FIGURE, EDITED_FIGURE, REMOVED_FIGURE, environment, run

EXAMPLES = example_queries()
# The README's three examples: a join with ranks, an aggregate with NULLs, provenance text.
CHOSEN = [title for title in EXAMPLES if title.startswith(("1. ", "2. ", "3. "))]
TIMEOUT_S = 2
MAX_ROWS = 1000
TOKEN = "a-token-for-the-tests-0123456789"


@pytest.fixture(scope="module")
def env(built) -> dict[str, str]:
    return {
        **environment(built.home.parent),
        "WAREHOUSE_QUERY_TIMEOUT_S": str(TIMEOUT_S),
        "WAREHOUSE_QUERY_MAX_ROWS": str(MAX_ROWS),
    }


@pytest.fixture(scope="module")
def served(env) -> str:
    with serving(env) as url:
        yield url


@pytest.fixture(scope="module")
def current(db) -> tuple[str, str]:
    return db.execute("select publication_id, dagster_run_id from meta.publication").fetchall()[0]


def post(url: str, sql: str, **fields) -> requests.Response:
    return requests.post(f"{url}/api/query", json={"sql": sql, **fields}, timeout=60)


def normal(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame as CSV gives it back, so that frames from JSON, CSV and Parquet compare by value."""
    return pd.read_csv(io.StringIO(frame.to_csv(index=False)))


def test_tables_are_the_published_tables_with_counts_columns_and_dbt_descriptions(served, db, current):
    answer = requests.get(f"{served}/api/tables", timeout=60)
    assert answer.status_code == 200 and answer.headers["X-Publication"] == current[0]
    tables = {table["name"]: table for table in answer.json()}
    expected = db.execute(
        "select schema_name || '.' || table_name, coalesce(comment, '') from duckdb_tables()"
    ).fetchall()
    assert {name: table["description"] for name, table in tables.items()} == dict(expected)
    for name, table in tables.items():
        assert table["row_count"] == db.execute(f"select count(*) from {name}").fetchall()[0][0], name
        schema, relation = name.split(".")
        columns = db.execute(
            "select column_name, data_type, coalesce(comment, '') from duckdb_columns() "
            "where schema_name = ? and table_name = ? order by column_index",
            [schema, relation],
        ).fetchall()
        assert [(c["name"], c["type"], c["description"]) for c in table["columns"]] == columns, name
    scores = tables["marts.egov_scores"]
    assert scores["description"] and scores["row_count"] == 2316
    assert any(c["name"] == "egdi" and "E-Government Development Index" in c["description"] for c in scores["columns"])


@pytest.mark.parametrize("title", CHOSEN)
def test_json_csv_and_parquet_give_the_rows_of_warehouse_query(served, env, current, title, tmp_path):
    sql = EXAMPLES[title]
    cli = run(["query", "--csv", sql], env)
    assert cli.returncode == 0, cli.stderr
    expected = pd.read_csv(io.StringIO(cli.stdout))
    assert len(expected) > 0

    answer = post(served, sql)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["publication"] == current[0] and body["truncated"] is False and body["elapsed_ms"] >= 0
    assert [c["name"] for c in body["columns"]] == list(expected.columns)
    from_json = pd.DataFrame(body["rows"], columns=list(expected.columns))

    query_url = f"{served}/api/query?" + urlencode({"sql": sql, "format": "csv"})
    from_csv = pd.read_csv(query_url)  # as a notebook reads it, by URL

    parquet = tmp_path / "answer.parquet"
    download = requests.get(f"{served}/api/query", params={"sql": sql, "format": "parquet"}, timeout=60)
    assert download.status_code == 200 and download.headers["X-Publication"] == current[0]
    assert f'filename="query-{current[0]}.parquet"' in download.headers["Content-Disposition"]
    parquet.write_bytes(download.content)
    with duckdb.connect() as reader:
        from_parquet = reader.execute("select * from read_parquet(?)", [str(parquet)]).df()

    for frame in (from_json, from_csv, from_parquet):
        pd.testing.assert_frame_equal(normal(frame), normal(expected), check_dtype=False)


def test_the_row_limit_cuts_json_and_not_downloads(served, db):
    sql = "select iso3, survey_year, egdi from marts.egov_scores order by iso3, survey_year"
    body = requests.get(f"{served}/api/query", params={"sql": sql}, timeout=60).json()
    assert body["truncated"] is True and len(body["rows"]) == MAX_ROWS
    every_row = pd.read_csv(f"{served}/api/query?" + urlencode({"sql": sql, "format": "csv"}))
    assert len(every_row) == 2316 == db.execute("select count(*) from marts.egov_scores").fetchall()[0][0]
    assert [tuple(row) for row in body["rows"]] == list(every_row.head(MAX_ROWS).itertuples(index=False, name=None))


def test_publications_name_their_run_and_inputs_and_a_kept_one_is_queried_by_id(served, db, current):
    listed = requests.get(f"{served}/api/publications", timeout=60).json()
    assert listed[0]["id"] == current[0] and listed[0]["run_id"] == current[1]
    inputs = dict(db.execute("select source, fingerprint from meta.inputs").fetchall())
    assert {source: values["fingerprint"] for source, values in listed[0]["inputs"].items()} == inputs
    body = post(served, "select publication_id from meta.publication", publication=current[0]).json()
    assert body["rows"] == [[current[0]]] and body["publication"] == current[0]


@pytest.mark.parametrize(
    "sql, status, error, says",
    [
        ("select * from read_csv('/etc/passwd')", 403, "refused", "sandbox"),
        ("select * from read_text('/etc/hostname')", 403, "refused", "sandbox"),
        ("select * from glob('/etc/*')", 403, "refused", "sandbox"),
        ("copy (select 1) to '/tmp/served.csv'", 403, "refused", "COPY"),
        ("attach '/tmp/served.duckdb' as other", 403, "refused", "ATTACH"),
        ("install httpfs", 403, "refused", "read-only"),
        ("load httpfs", 403, "refused", "read-only"),
        ("set threads = 64", 403, "refused", "read-only"),
        ("select 1; set enable_external_access = true", 403, "refused", "read-only"),
        ("create table main.mine as select 1", 403, "refused", "read-only"),
        ("selec 1", 400, "invalid", "does not parse"),
        ("select * from marts.no_such_table", 400, "invalid", "no_such_table"),
        ("", 400, "invalid", "give the SQL"),
    ],
)
def test_what_the_sandbox_refuses_through_http_is_a_json_4xx_that_says_why(served, sql, status, error, says):
    for answer in (
        post(served, sql),
        requests.get(f"{served}/api/query", params={"sql": sql, "format": "csv"}, timeout=60),
    ):
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.json()["error"] == error and says in answer.json()["message"]
    assert not any(Path(p).exists() for p in ("/tmp/served.csv", "/tmp/served.duckdb"))


def test_other_bad_requests_are_json_4xx(served):
    unknown = post(served, "select 1", publication="20200101-000000-deadbeef")
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_publication"
    assert "those kept:" in unknown.json()["message"]
    traversal = post(served, "select 1", publication="../warehouse")
    assert traversal.status_code == 404
    form = requests.post(f"{served}/api/query", data={"sql": "select 1"}, timeout=60)
    assert form.status_code == 415 and "application/json" in form.json()["message"]
    huge = requests.post(
        f"{served}/api/query",
        data=b'{"sql": "' + b" " * (1 << 20) + b'select 1"}',
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert huge.status_code == 413 and "WAREHOUSE_SERVE_MAX_BODY_BYTES" in huge.json()["message"]
    fmt = requests.get(f"{served}/api/query", params={"sql": "select 1", "format": "xlsx"}, timeout=60)
    assert fmt.status_code == 400 and "csv" in fmt.json()["message"]
    # A page elsewhere that points a name of its own at 127.0.0.1 is not answered (DNS rebinding).
    rebound = requests.get(f"{served}/api/tables", headers={"Host": "attacker.example"}, timeout=60)
    assert rebound.status_code == 400


def test_a_runaway_query_is_stopped_at_the_limit_while_other_clients_are_answered(served):
    runaway = "select count(*) from range(10000000000000) where hash(range) = 42"  # CPU, no memory
    outcome = {}

    def run_away():
        started = time.monotonic()
        outcome["answer"], outcome["seconds"] = post(served, runaway), time.monotonic() - started

    thread = threading.Thread(target=run_away)
    thread.start()
    answered = []
    while thread.is_alive():
        started = time.monotonic()
        answer = post(served, "select count(*) from marts.egov_scores where survey_year = 2024")
        answered.append(time.monotonic() - started)
        assert answer.status_code == 200 and answer.json()["rows"] == [[193]]
    thread.join()
    assert outcome["answer"].status_code == 400 and outcome["answer"].json()["error"] == "timeout"
    assert f"time limit of {TIMEOUT_S} s" in outcome["answer"].json()["message"]
    assert TIMEOUT_S <= outcome["seconds"] < TIMEOUT_S + 5
    assert len(answered) >= 5 and max(answered) < TIMEOUT_S, answered
    # The service goes on answering once the runaway is stopped.
    assert post(served, "select 42").json()["rows"] == [[42]]


def test_a_bind_beyond_loopback_needs_a_token(env):
    refused = run(["serve", "--host", "0.0.0.0", "--port", "9"], env)
    assert refused.returncode == 2 and "without a token" in refused.stderr and "WAREHOUSE_SERVE_TOKEN" in refused.stderr
    short = run(["serve", "--host", "0.0.0.0", "--port", "9", "--token", "short"], env)
    assert short.returncode == 2 and "at least 16 characters" in short.stderr


def test_with_a_token_every_request_shows_it(env):
    with serving({**env, "WAREHOUSE_SERVE_TOKEN": TOKEN}) as url:
        for path in ("/", "/api/tables", "/api/publications", "/api/query?sql=select+1", "/static/console.js"):
            missing = requests.get(url + path, timeout=60)
            assert missing.status_code == 401 and missing.json()["error"] == "unauthorized", path
            assert missing.headers["WWW-Authenticate"].startswith("Basic")
            wrong = requests.get(url + path, headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"}, timeout=60)
            assert wrong.status_code == 401, path
            shown = requests.get(url + path, headers={"Authorization": "Bearer " + TOKEN}, timeout=60)
            assert shown.status_code == 200, path
        basic = base64.b64encode(f"analyst:{TOKEN}".encode()).decode()
        assert (
            requests.get(url + "/api/tables", headers={"Authorization": "Basic " + basic}, timeout=60).status_code
            == 200
        )
        # A notebook gives it as a header too.
        frame = pd.read_csv(
            f"{url}/api/query?sql=select+42+as+answer&format=csv", storage_options={"Authorization": "Bearer " + TOKEN}
        )
        assert frame.to_dict("records") == [{"answer": 42}]


def test_the_console_in_chromium_picks_a_table_and_runs_an_example(served, db, current, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with driven(tmp_path / "profile") as browser:
        browser.get(served + "/")
        assert current[0] in browser.find_element(By.ID, "publication").text
        # Pick a table: its columns show, and the editor holds a query of it.
        browser.find_element(By.CSS_SELECTOR, 'details[data-table="marts.dim_country"] summary').click()
        columns = browser.find_element(By.CSS_SELECTOR, 'details[data-table="marts.dim_country"] table.columns')
        assert columns.is_displayed() and "is_central_asia" in columns.text and "BOOLEAN" in columns.text
        assert browser.find_element(By.ID, "sql").get_property("value") == "select * from marts.dim_country limit 100"
        browser.find_element(By.ID, "run").click()
        WebDriverWait(browser, 30).until(lambda b: "rows" in b.find_element(By.ID, "status").text)
        assert len(browser.find_elements(By.CSS_SELECTOR, "#result tbody tr")) == 100
        status = browser.find_element(By.ID, "status").text
        assert status.startswith("100 rows") and current[0] in status

        # Run the README's first example, one click; read the rows from the page.
        title = CHOSEN[0]
        browser.find_element(By.XPATH, f'//button[@class="example" and normalize-space()="{title}"]').click()
        WebDriverWait(browser, 30).until(lambda b: b.find_element(By.ID, "status").text.startswith("5 rows"))
        header = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#result thead th")]
        shown = [
            [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in browser.find_elements(By.CSS_SELECTOR, "#result tbody tr")
        ]
        expected = db.execute(EXAMPLES[title]).fetchall()
        assert header == ["country_name", "egdi", "egdi_rank", "egdi_group", "epi", "epi_rank"]
        assert [row[0] for row in shown] == [row[0] for row in expected]
        assert [float(row[1]) for row in shown] == [row[1] for row in expected]
        # The download links carry the same query and publication.
        link = browser.find_element(By.ID, "csv").get_attribute("href")
        assert "format=csv" in link and f"publication={current[0]}" in link
        downloaded = pd.read_csv(link)
        assert list(downloaded["country_name"]) == [row[0] for row in expected]
        # A refused query says why on the page.
        browser.find_element(By.ID, "sql").clear()
        browser.find_element(By.ID, "sql").send_keys("select * from read_csv('/etc/passwd')")
        browser.find_element(By.ID, "run").click()
        WebDriverWait(browser, 30).until(lambda b: b.find_element(By.ID, "status").text.startswith("refused"))


# The rows of the console's result table as values: NULL cells None, number cells floats, the rest text.
SHOWN_ROWS = """return Array.from(document.querySelectorAll("#result tbody tr"), (tr) =>
  Array.from(tr.cells, (td) => [td.className, td.textContent]))"""


def shown(browser) -> list[list]:
    cells = {"null": lambda text: None, "number": float, "": str}
    return [[cells[kind](text) for kind, text in row] for row in browser.execute_script(SHOWN_ROWS)]


def test_the_console_address_holds_the_query_and_a_copied_link_gives_the_same_rows(served, db, current, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import staleness_of
    from selenium.webdriver.support.ui import WebDriverWait

    first = (
        "select iso3, survey_year, egdi, egdi_rank from marts.egov_scores"
        " where iso3 in ('KAZ', 'KGZ') and survey_year >= 2016 order by iso3, survey_year"
    )
    # A newline, quotes, %, + and & in the SQL: the link must carry them all.
    second = (
        "select country_name, round(egdi * 100 + 0, 1) as egdi_pct, 'A&B' as tag from marts.egov_scores\n"
        "join marts.dim_country using (iso3)\nwhere survey_year = 2024 and iso3 like 'K%' order by egdi desc, iso3"
    )

    def expected(sql: str) -> list[list]:
        return [
            [None if v is None else float(v) if isinstance(v, int | float) else v for v in row]
            for row in db.execute(sql).fetchall()
        ]

    def address(url: str) -> dict[str, list[str]]:
        return parse_qs(urlsplit(url).query)

    def ran(browser, sql: str) -> None:
        WebDriverWait(browser, 30).until(lambda b: " rows · publication " in b.find_element(By.ID, "status").text)
        assert browser.find_element(By.ID, "sql").get_property("value") == sql
        header = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#result thead th")]
        assert header == [column[0] for column in db.execute(sql).description]
        assert shown(browser) == expected(sql) != []

    # Without JavaScript the editor already holds the address's SQL.
    page = requests.get(served + "/?" + urlencode({"sql": second, "publication": current[0]}), timeout=60).text
    assert html.unescape(re.search(r'<textarea id="sql"[^>]*>\n(.*?)</textarea>', page, re.S)[1]) == second

    with driven(tmp_path / "profile") as browser:
        # Opening an address with SQL fills the editor and runs it on that publication.
        browser.get(served + "/?" + urlencode({"sql": first, "publication": current[0]}))
        ran(browser, first)
        assert current[0] in browser.find_element(By.ID, "status").text
        assert address(browser.current_url) == {"sql": [first], "publication": [current[0]]}

        # Another query in the editor; "Copy link" shows the link in the page, clipboard or not.
        editor = browser.find_element(By.ID, "sql")
        editor.clear()
        editor.send_keys(second)
        browser.find_element(By.ID, "copy").click()
        link = browser.find_element(By.ID, "link")
        WebDriverWait(browser, 10).until(lambda b: link.is_displayed() and link.get_property("value"))
        shared = link.get_property("value")
        assert shared.startswith(served + "/?")
        assert address(shared) == {"sql": [second], "publication": [current[0]]}

        # The link, opened, gives that query's rows.
        browser.get(shared)
        ran(browser, second)

        # Picking a publication keeps the editor's SQL (one publication is kept here: choose it again).
        editor = browser.find_element(By.ID, "sql")
        editor.clear()
        editor.send_keys(first)
        select = browser.find_element(By.ID, "publication")
        browser.execute_script("arguments[0].dispatchEvent(new Event('change'))", select)
        WebDriverWait(browser, 30).until(staleness_of(select))
        ran(browser, first)
        assert address(browser.current_url) == {"sql": [first], "publication": [current[0]]}


def test_the_console_compares_two_publications_with_the_examples_one_click_away(two_publications, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.ui import WebDriverWait

    old, new = two_publications.old, two_publications.new
    figures = "marts.datareportal_figures"
    with serving(two_publications.env) as url, driven(tmp_path / "profile") as browser:
        listed = requests.get(f"{url}/api/publications", timeout=60).json()
        assert [p["id"] for p in listed[:2]] == [new, old]
        api = requests.get(f"{url}/api/publications/{old}/diff/{new}", timeout=60).json()
        changed = {t["table"]: t for t in api["tables"] if t["status"] != "unchanged"}

        browser.get(url + "/")
        status = browser.find_element(By.ID, "diff-status")
        older, newer = (Select(browser.find_element(By.ID, name)) for name in ("diff-old", "diff-new"))
        assert browser.find_element(By.CSS_SELECTOR, 'label[for="diff-old"]').text == "Older"
        assert browser.find_element(By.CSS_SELECTOR, 'label[for="diff-new"]').text == "Newer"
        # By default: the publication the current one replaced, against the current one.
        assert (
            older.first_selected_option.get_attribute("value"),
            newer.first_selected_option.get_attribute("value"),
        ) == (old, new)
        older.select_by_value(old)
        newer.select_by_value(new)
        browser.find_element(By.ID, "diff-run").click()
        headline = f"{old} → {new}: {summary_line(api)}"
        WebDriverWait(browser, 60).until(lambda b: status.text == headline)
        assert summary_line(api) != "no change"

        # A line per changed table, as the API says; the unchanged ones counted.
        lines = browser.find_elements(By.CSS_SELECTOR, "#diff table.diff > tbody > tr[data-table]")
        assert [line.get_attribute("data-table") for line in lines] == list(changed)
        unchanged = len(api["tables"]) - len(changed)
        assert browser.find_element(By.CSS_SELECTOR, "#diff p.unchanged").text == f"{unchanged} tables unchanged"
        # The edit: one figure changed, one removed, one added.
        line = browser.find_element(By.CSS_SELECTOR, f'#diff tr[data-table="{figures}"]')
        cells = [td.text for td in line.find_elements(By.TAG_NAME, "td")]
        assert cells[0] == "changed" and cells[2:5] == ["1", "1", "1"], cells

        # Its examples are one click away.
        examples = browser.find_element(
            By.ID, line.find_element(By.CSS_SELECTOR, "button.examples").get_attribute("aria-controls")
        )
        assert not examples.is_displayed()
        line.find_element(By.CSS_SELECTOR, "button.examples").click()
        WebDriverWait(browser, 10).until(lambda b: examples.is_displayed())

        def table(selector: str) -> tuple[list[str], list[list[str]]]:
            shown = examples.find_element(By.CSS_SELECTOR, selector)
            header = [th.text for th in shown.find_elements(By.CSS_SELECTOR, "thead th")]
            rows = [
                [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                for tr in shown.find_elements(By.CSS_SELECTOR, "tbody tr")
            ]
            return header, rows

        key = ["iso3", "report_year", "metric"]
        header, rows = table('table.examples[data-kind="changed"][data-column="value"]')
        assert header == [*key, "old", "new"]
        assert [*map(str, EDITED_FIGURE), "51.1", "52.3"] in rows
        assert "value changed in 1 row" in examples.find_element(By.CSS_SELECTOR, '[data-column="value"] caption').text
        for kind, figure in (("added", ADDED_FIGURE), ("removed", REMOVED_FIGURE)):
            header, rows = table(f'table.examples[data-kind="{kind}"]')
            assert header == key and list(map(str, figure)) in rows, kind

        # A publication against itself: no change, every table unchanged.
        older.select_by_value(new)
        browser.find_element(By.ID, "diff-run").click()
        WebDriverWait(browser, 60).until(lambda b: status.text == f"{new} → {new}: no change")
        assert not browser.find_elements(By.CSS_SELECTOR, "#diff table")
        assert (
            browser.find_element(By.CSS_SELECTOR, "#diff p.unchanged").text == f"{len(api['tables'])} tables unchanged"
        )

        # A problem is the API's error, said in the page.
        gone = "20200101-000000-deadbeef"
        browser.execute_script(
            "arguments[0].add(new Option(arguments[1], arguments[1], true, true))",
            browser.find_element(By.ID, "diff-old"),
            gone,
        )
        browser.find_element(By.ID, "diff-run").click()
        WebDriverWait(browser, 60).until(lambda b: status.text.startswith("unknown_publication: "))
        assert "error" in status.get_attribute("class") and gone in status.text
        assert not browser.find_elements(By.CSS_SELECTOR, "#diff *")
        # All of it within the page's Content-Security-Policy: no inline script, handler or style.
        assert not [e for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]


def test_warehouse_query_reads_a_kept_publication_by_its_id(env, current):
    kept = run(["query", "--publication", current[0], "--csv", "select publication_id from meta.publication"], env)
    assert kept.returncode == 0 and kept.stdout.splitlines() == ["publication_id", current[0]], kept.stderr
    unknown = run(["query", "--publication", "20200101-000000-deadbeef", "select 1"], env)
    assert unknown.returncode == 2
    assert f"no publication '20200101-000000-deadbeef' is kept; those kept: {current[0]}" in unknown.stderr
