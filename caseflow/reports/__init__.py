"""The reports' read side: KPI figures (:mod:`caseflow.reports.kpis`) aggregated in SQL over the
case facts and their summaries, never over workflows or data JSON."""
