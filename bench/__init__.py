"""Performance benchmark of the FP calibration functions (issue 8); not part of the test suite.

    .venv/bin/python -m bench            # from the repository root; prints one table
    .venv/bin/python -m bench --quick    # fewer events and runs (a smoke run, ~30 s)

Everything runs in-process against moto, or in fresh subprocesses for cold starts. Each figure
is a count or a ratio that holds on any machine, with the absolute time of this machine beside
it. moto's own time is not DynamoDB's (it scans where DynamoDB indexes): the DynamoDB figures are
read and write units computed from item sizes, as DynamoDB bills them.
"""
