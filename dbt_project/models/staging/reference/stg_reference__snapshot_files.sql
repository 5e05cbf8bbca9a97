select
    source,
    file_name,
    sha256,
    cast(size_bytes as {{ dbt.type_bigint() }}) as size_bytes,
    vintage,
    producer,
    title,
    upstream_url,
    obtained_from,
    date_accessed,
    licence,
    citation,
    notes
from {{ source('reference', 'snapshot_files') }}
