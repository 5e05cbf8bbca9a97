"""The UN survey's raw table: every survey year parsed, loaded whole."""

from datetime import UTC, datetime

import pandas as pd

from orchestration.sources.spec import Loaded, LoadRequest
from orchestration.sources.un_egov.parser import FILE_PATTERN, parse_file


def load(request: LoadRequest) -> Loaded:
    files = request.snapshot_set.matching(FILE_PATTERN)
    frames = []
    for path, record in files:
        frame = parse_file(path)
        frame["source_file"] = record.file
        frame["source_sha256"] = record.sha256
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table["loaded_at"] = pd.Timestamp(datetime.now(UTC)).tz_localize(None)
    return Loaded(
        message=f"loaded {len(table)} rows from {len(files)} files",
        tables={"un_egov_surveys": table},
        metadata={
            "un_egov_surveys": {
                "files": len(files),
                "survey_years": ", ".join(map(str, sorted(table["survey_year"].unique()))),
                "not_surveyed_rows": int((~table["surveyed"]).sum()),
            }
        },
    )
