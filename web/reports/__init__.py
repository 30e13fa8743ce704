"""The KPI dashboard's presentation: tables, charts and sections (:mod:`web.reports.tables`)."""
