"""Every upstream the warehouse knows: the SPEC of each source package, by name."""

from orchestration.sources import datareportal, un_egov, worldbank

SOURCES = {spec.name: spec for spec in (un_egov.SPEC, worldbank.SPEC, datareportal.SPEC)}
