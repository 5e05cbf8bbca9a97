"""What every source's snapshots asset shares: its run config, and how it reports the set it verified."""

from pathlib import Path

import dagster as dg

from orchestration.sources.snapshots import verified_files


class LiveConfig(dg.Config):
    live: bool = False
    """Fetch from the live upstream first, and save what came as new snapshots (with provenance)."""


def verified_set(folder: Path, live: bool) -> dg.MaterializeResult:
    """Verify every snapshot file against its record; report the set's fingerprint as the data version."""
    provenance, files = verified_files(folder, "*")
    return dg.MaterializeResult(
        metadata={
            "mode": "live" if live else "snapshot",
            "files": dg.MetadataValue.md("\n".join(f"- `{r.file}` ({r.vintage or 'no vintage'})" for _, r in files)),
            "snapshot_fingerprint": provenance.fingerprint(),
        },
        data_version=dg.DataVersion(provenance.fingerprint()),
    )
