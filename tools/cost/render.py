"""The estimate as terminal text, as Markdown for a pull request, and as docs/cost.md."""

from __future__ import annotations

from collections.abc import Sequence

from tools.cost.catalog import ALSO_LEFT_OUT
from tools.cost.model import BATCH_EVENTS, INGESTED_EVENT, Estimate, Line
from tools.prices import AS_OF, HOURS_PER_MONTH, NOT_FOUND, PRICES, REGION, Price

REWRITE = "python -m tools.cost --write-doc"
BASIS = f"{REGION} on-demand list prices of {AS_OF}, {HOURS_PER_MONTH} h a month"


def money(usd: float) -> str:
    return f"${usd:,.2f}"


def rate(price: Price) -> str:
    """A unit price as printed: cents always shown, sub-cent digits only when they exist."""
    text = f"{price.usd:.4f}".rstrip("0")
    whole, _, cents = text.partition(".")
    return f"${int(whole):,}.{cents.ljust(2, '0')} per {price.per}"


def _unconfirmed(price: Price) -> str:
    return " (unconfirmed)" if price.checked.startswith(NOT_FOUND) else ""


def _event_units() -> str:
    writes = sum(r.write_units for r in INGESTED_EVENT)
    reads = sum(r.read_units for r in INGESTED_EVENT)
    return (
        f"{writes:g} WRU + {reads:g} RRU an event, from ingestion to publication in a batch "
        f"of {BATCH_EVENTS}"
    )


def _footer(found: Estimate, *, markdown: bool = False) -> list[str]:
    bullet, gap = ("- ", [""]) if markdown else ("  - ", [])
    lines = ["Usage assumed (the resource graph cannot tell):", *gap]
    lines += [f"{bullet}{text}" for text in found.usage.describe()]
    left_out = [*found.left_out, *ALSO_LEFT_OUT]
    lines += [
        *gap,
        "Left out of the floor (billed by traffic or stored data): " + "; ".join(left_out),
    ]
    if found.unpriced:
        kinds = ", ".join(f"{t} ({n})" for t, n in found.unpriced.items())
        lines += [*gap, f"NOT PRICED (add them to tools/cost/catalog.py): {kinds}"]
    return lines


def _used(found: Sequence[Estimate]) -> list[str]:
    return sorted({line.price_key for f in found for line in (*f.floor, *f.per_million_events)})


def _row(estimate: Estimate, line: Line) -> tuple[str, str, str, str]:
    price = estimate.price(line)
    return (
        f"  {line.item}",
        f"{line.basis} x {rate(price)}{_unconfirmed(price)}",
        money(estimate.monthly(line)),
        f"  ({line.note})" if line.note else "",
    )


def _text_of(estimate: Estimate) -> list[str]:
    floor = [_row(estimate, line) for line in estimate.floor]
    events = [_row(estimate, line) for line in estimate.per_million_events]
    width = max((len(row[0]) for row in (*floor, *events)), default=0)
    calc = max((len(row[1]) for row in (*floor, *events)), default=0)

    def show(item: str, basis: str, cost: str, note: str = "") -> str:
        return f"{item:<{width}}  {basis:<{calc}} = {cost:>10}{note}"

    out = [f"Monthly floor of stack {estimate.stack}: {money(estimate.total)} ({BASIS})"]
    group = None
    for line, row in zip(estimate.floor, floor, strict=True):
        if line.group != group:
            group = line.group
            out.append(group)
        out.append(show(*row))
    out.append(show(f"{'total':>{width}}", "", money(estimate.total)))
    if events:
        out.append(
            f"\nDynamoDB on demand: {money(estimate.per_million)} per million ingested "
            f"events ({_event_units()}), not in the floor"
        )
        out += [show(*row) for row in events]
    return [*out, "", *_footer(estimate), ""]


def render_text(found: Sequence[Estimate]) -> str:
    out = [line for estimate in found for line in _text_of(estimate)]
    if len(found) > 1:
        together = sum(f.total for f in found)
        out.append(f"Together ({', '.join(f.stack for f in found)}): {money(together)} a month")
    out.append("Prices used (tools/prices.py; 'unconfirmed': no stored page showed the figure):")
    out += [
        f"  {key}: {rate(PRICES[key])}{_unconfirmed(PRICES[key])}  {PRICES[key].source}"
        for key in _used(found)
    ]
    return "\n".join(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(found: Sequence[Estimate], *, heading: str = "###") -> str:
    out: list[str] = []
    for estimate in found:
        out += [
            f"{heading} Monthly floor of `{estimate.stack}`: {money(estimate.total)}",
            "",
            f"{BASIS}; no traffic. Quantities from the resources the stack registers "
            "(`python -m tools.cost`).",
            "",
            "| group | item | quantity | unit price | per month |",
            "| --- | --- | --- | --- | ---: |",
        ]
        for line in estimate.floor:
            price = estimate.price(line)
            note = f" ({line.note})" if line.note else ""
            out.append(
                f"| {line.group} | {_cell(line.item)}{_cell(note)} | {line.basis} | "
                f"{rate(price)}{_unconfirmed(price)} | {money(estimate.monthly(line))} |"
            )
        out.append(f"| | **total** | | | **{money(estimate.total)}** |")
        if estimate.per_million_events:
            out += [
                "",
                f"DynamoDB on demand: **{money(estimate.per_million)} per million ingested "
                f"events** ({_event_units()}).",
                "",
                "<details><summary>Request units of one event</summary>",
                "",
                "| request | table | write units | read units |",
                "| --- | --- | ---: | ---: |",
                *(
                    f"| {_cell(r.what)} | {r.table} | {r.write_units:g} | {r.read_units:g} |"
                    for r in INGESTED_EVENT
                ),
                "",
                "</details>",
            ]
        out += ["", "<details><summary>Usage assumed and what is left out</summary>", ""]
        out += _footer(estimate, markdown=True)
        out += ["", "</details>", ""]
    if len(found) > 1:
        together = sum(f.total for f in found)
        out.append(
            f"**Together ({', '.join(f.stack for f in found)}): {money(together)} a month.**"
        )
    return "\n".join(out).rstrip() + "\n"


def render_doc(found: Sequence[Estimate]) -> str:
    """docs/cost.md: the floor of each stack and the dated price table with its sources."""
    out = [
        "# Cost: the monthly floor of each stack",
        "",
        f"Generated by `{REWRITE}` from the resources each stack registers under the",
        "test mocks and the dated price table `tools/prices.py`; `tests/test_cost.py` fails",
        "when this file is stale. The floor is what a stack costs with no traffic; DynamoDB",
        "is priced per million ingested events. `python -m tools.cost STACK` prints the same",
        "for any stack, and the preview workflow adds it to each pull request's job summary.",
        "",
        "Both stacks share one AWS account (one bootstrap, one deploy role): the account's first",
        "trail copies management events for free, so the trail of the stack deployed second",
        "(production) pays for its copy. A third trail, such as an organization trail, would",
        "make both pay.",
        "",
        render_markdown(found, heading="##").rstrip(),
        "",
        "## Prices",
        "",
        f"{BASIS}. AWS's pricing pages cannot be reached from where this table was written: "
        "each price names its AWS page and where the figure was checked (a stored copy of that "
        "page, a third-party page quoting it, or not found). Confirm the unconfirmed ones on "
        "their AWS page before quoting a total.",
        "",
        "| price | unit price | AWS page | checked |",
        "| --- | --- | --- | --- |",
    ]
    for key, price in PRICES.items():
        out.append(f"| `{key}` | {rate(price)} | {price.source} | {_cell(price.checked)} |")
    return "\n".join(out) + "\n"
