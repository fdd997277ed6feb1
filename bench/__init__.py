"""Performance benchmark of the FP calibration functions; not part of the test suite.

    .venv/bin/python -m bench            # from the repository root; prints the tables
    .venv/bin/python -m bench --quick    # fewer events and runs (a smoke run)

Everything runs in-process against moto (testing/service.py wires the functions as deployed),
or in fresh subprocesses for cold starts. Each figure is a count or a ratio that holds on any
machine, with this machine's CPU time beside it. moto's own time is not DynamoDB's: DynamoDB
figures are calls and read units, as DynamoDB bills them. moto's transactions back up only the
items they touch (``testing.aws.cheap_transactions``; moto copies whole tables once per item,
which makes thousands of events quadratic). bench/ imports nothing from tests/.
"""
