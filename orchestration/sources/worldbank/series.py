"""How a WDI series is told apart from its previous load: by its fingerprint (raw.wdi_indicators)."""


def differing_series(new: str, old: str) -> str:
    """A SELECT of the series added, changed or removed between two (indicator_code, fingerprint)
    relations: the one rule by which raw loads, WDI builds and publications take only what changed."""
    return (
        f"select indicator_code from {new} as n full join {old} as o using (indicator_code) "
        "where n.fingerprint is distinct from o.fingerprint"
    )
