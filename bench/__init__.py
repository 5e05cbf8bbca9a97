"""`make bench`: what a refresh costs, how ingestion grows to full-WDI scale, and how fast
analysts' queries are. Results go to bench/RESULTS.md."""
