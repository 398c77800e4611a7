"""Presenting stored runs: figures and self-contained HTML reports.

    figures/       figure functions by theme (arrays in, a matplotlib Figure out)
    registry       a run's figures by name: how each is drawn from its artifacts, which runs it applies to
    views          derived views stored with the run (figure PNGs, the t-SNE, the report): computed once
    stored_figure  the Figure figure_for returns for a stored view: its PNG until used as a figure
    html           numbers, figures as data URIs, the page shell; renders templates/
    templates/     the reports' markup (Jinja2, autoescaped) and CSS
    run_report     one run's report (its sections read the registry)
    sweep_report   one sweep's report
    report         the public names of both reports (write_report, write_sweep_report, ...)
"""
