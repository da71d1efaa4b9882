"""Reports: results.json (one schema), rendered to a self-contained report.html and a summary.md.

results = sources.build_from(Path("reports/20250101-120000-compare"), run_id=..., time_scale=0.05)
output.write(results, directory)
"""
