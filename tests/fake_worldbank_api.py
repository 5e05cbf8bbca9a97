"""A World Bank Indicators API v2 stand-in on 127.0.0.1, for tests only.

It answers in the documented shapes (see warehouse/snapshots/worldbank/API_V2_FORMAT.md) with
rows built from the embedded WDI snapshot files, read here with plain pandas independently of the
warehouse's own parser. Faults can be queued per (resource, page): a 502, an error inside a 200
body, an HTML page, or a response slower than the client's timeout.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pandas as pd

ERROR_BODY = [
    {"message": [{"id": "120", "key": "Invalid value", "value": "The provided parameter value is not valid"}]}
]
HTML_BODY = "<!DOCTYPE html><html><body><h1>Service Unavailable</h1></body></html>"


def _wide_csv(path: Path) -> pd.DataFrame:
    with path.open(encoding="utf-8-sig") as handle:
        first = handle.readline()
    skip = 4 if first.lstrip('"').startswith("Data Source") else 0
    frame = pd.read_csv(path, skiprows=skip, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    return frame.loc[:, [c for c in frame.columns if not c.startswith("Unnamed")]]


class FakeWorldBankApi:
    def __init__(self, snapshots: Path, lastupdated: str = "2026-07-13", seed: int = 7):
        self.lastupdated = lastupdated
        self.rows: dict[str, list[dict]] = {}
        for path in sorted(snapshots.glob("API_*.csv")):
            wide = _wide_csv(path)
            code = wide["Indicator Code"].iloc[0]
            self.rows[code] = self._indicator_rows(wide, random.Random(seed))
        metadata = next(snapshots.glob("Metadata_Country_*.csv"))
        self.countries = self._country_rows(
            pd.read_csv(metadata, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        )
        self.faults: dict[tuple[str, int], list[str]] = defaultdict(list)
        self.empty: set[str] = set()
        self.numbers_as_strings = False
        self.slow_seconds = 2.0
        self.requests: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    @staticmethod
    def _indicator_rows(wide: pd.DataFrame, shuffle: random.Random) -> list[dict]:
        rows = []
        years = [c for c in wide.columns if c.isdigit()]
        for record in wide.to_dict("records"):
            for year in years:
                text = record[year].strip()
                rows.append(
                    {
                        "indicator": {"id": record["Indicator Code"], "value": record["Indicator Name"]},
                        "country": {"id": record["Country Code"], "value": record["Country Name"]},
                        # Some aggregates come without an ISO3 code; clients must fall back to country.id.
                        "countryiso3code": "" if record["Country Code"] in ("AFE", "INX") else record["Country Code"],
                        "date": year,
                        "value": float(text) if text else None,
                        "unit": "",
                        "obs_status": "",
                        "decimal": 1,
                    }
                )
        shuffle.shuffle(rows)  # the API does not guarantee an order
        return rows

    @staticmethod
    def _country_rows(metadata: pd.DataFrame) -> list[dict]:
        rows = []
        for record in metadata.to_dict("records"):
            aggregate = not record["Region"]
            rows.append(
                {
                    "id": record["Country Code"],
                    "iso2Code": "",
                    "name": record["TableName"],
                    "region": {"id": "NA", "iso2code": "NA", "value": "Aggregates"}
                    if aggregate
                    else {
                        "id": "XX",
                        "iso2code": "XX",
                        "value": record["Region"] + " ",
                    },  # labels can carry trailing spaces
                    "incomeLevel": {"id": "NA", "value": "Aggregates"}
                    if aggregate
                    else {"id": "XX", "value": record["IncomeGroup"]},
                    "capitalCity": "",
                    "longitude": "",
                    "latitude": "",
                }
            )
        return rows

    # -- serving -----------------------------------------------------------------------------

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                fake._answer(self)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}/v2"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlparse(handler.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        self.requests.append(handler.path)
        parts = url.path.strip("/").split("/")  # v2/country[/<codes>/indicator/<code>]
        resource = parts[4] if len(parts) == 5 and parts[3] == "indicator" else "country"
        page = int(query.get("page", 1))
        fault = self.faults[(resource, page)].pop(0) if self.faults[(resource, page)] else None
        if fault == "502":
            return self._send(handler, 502, "text/html", "<html>502 Bad Gateway</html>")
        if fault == "error200":
            return self._send(handler, 200, "application/json", json.dumps(ERROR_BODY))
        if fault == "html":
            return self._send(handler, 200, "text/html", HTML_BODY)
        if fault == "slow":
            time.sleep(self.slow_seconds)
        if resource == "country":
            rows = self.countries
        else:
            if query.get("source") != "2":
                return self._send(handler, 200, "application/json", json.dumps(ERROR_BODY))
            rows = [] if resource in self.empty else self.rows.get(resource, [])
            if parts[2] != "all":
                wanted = set(parts[2].split(";"))
                rows = [row for row in rows if row["country"]["id"] in wanted]
        self._send(handler, 200, "application/json", json.dumps(self._page(rows, page, int(query.get("per_page", 50)))))

    def _page(self, rows: list[dict], page: int, per_page: int) -> list:
        if not rows:
            return [{"page": 0, "pages": 0, "per_page": per_page, "total": 0}, None]
        pages = math.ceil(len(rows) / per_page)
        meta = {
            "page": page,
            "pages": pages,
            "per_page": per_page,
            "total": len(rows),
            "sourceid": "2",
            "lastupdated": self.lastupdated,
        }
        if self.numbers_as_strings:
            meta = {key: str(value) for key, value in meta.items()}
        return [meta, rows[(page - 1) * per_page : page * per_page]]

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, content_type: str, body: str) -> None:
        data = body.encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to answer
