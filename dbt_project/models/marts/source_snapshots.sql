-- Where every number came from: one row per embedded upstream file, to cite and to check.
select * from {{ ref('stg_reference__snapshot_files') }}
