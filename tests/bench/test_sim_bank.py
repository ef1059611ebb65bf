"""The capability bank: matching, reading unseen phrasings, drafts with bugs, and the llm-tool answers."""

from __future__ import annotations

import ast
import json
import random

import pytest
from agentfactory_bench.sim_bank import CAPABILITIES, get, match, plan, sim_llm_answer
from agentfactory_bench.sim_bank.bank import _hit

from .conftest import HostRunError, run_on_host

NAME = r"^[a-z0-9]+(-[a-z0-9]+)*$"

# Paraphrased variants written here, not in any suite: other entities, files, pages and phrasings.
VARIANTS = [
    (
        "What's the annualized volatility of the monthly closes in tsla_monthly.csv? Plot it to tsla.png.",
        ["inputs/tsla_monthly.csv"],
        "price-volatility",
        {"csv_path": "inputs/tsla_monthly.csv", "periods_per_year": 12, "chart_path": "outputs/tsla.png"},
    ),
    (
        "I attached btc.csv: how risky is bitcoin? Give the annualised volatility of daily returns.",
        ["inputs/btc.csv"],
        "price-volatility",
        {"csv_path": "inputs/btc.csv", "periods_per_year": 252},
    ),
    (
        "Is there a relationship between rainfall and crop_yield in farms.csv? Fit a line of best fit and "
        "draw a scatter plot to farms.png.",
        ["inputs/farms.csv"],
        "linear-regression",
        {"x": "rainfall", "y": "crop_yield", "chart_path": "outputs/farms.png"},
    ),
    (
        "Predict price from floor_area using houses.csv (linear regression, report the slope and R²).",
        ["inputs/houses.csv"],
        "linear-regression",
        {"x": "floor_area", "y": "price"},
    ),
    (
        "Extract the names and links of all workshops listed at http://127.0.0.1:8000/events/workshops.html "
        "into workshops.md.",
        [],
        "page-links-to-markdown",
        {"url": "http://127.0.0.1:8000/events/workshops.html", "output_path": "outputs/workshops.md"},
    ),
    (
        "Search the web for the latest news about heat pumps, read the top 4 results and write a summary "
        "report in heat_pumps.md.",
        [],
        "web-research",
        {"query": "heat pumps", "k": 4},
    ),
    (
        "What do customers think of the Nimbus headphones? reviews.json has dated reviews; chart the monthly "
        "sentiment to nimbus.png.",
        ["inputs/reviews.json"],
        "sentiment-trend",
        {"posts_path": "inputs/reviews.json", "period": "month", "chart_path": "outputs/nimbus.png"},
    ),
    (
        "Using the endpoint https://api.example.test/v1/invoices (paginated), compute the total `value` by "
        "`customer` and write it to per_customer.json.",
        [],
        "json-api-aggregate",
        {
            "group_by": "customer",
            "field": "value",
            "operation": "sum",
            "output_path": "outputs/per_customer.json",
        },
    ),
    (
        "How many orders are there per country in the API at http://127.0.0.1:9000/orders.json?",
        [],
        "json-api-aggregate",
        {"group_by": "country", "operation": "count"},
    ),
    (
        "Please validate employees.csv against hr_schema.json and convert the good rows to staff.json; list "
        "the rejects in errors.csv.",
        ["inputs/employees.csv", "inputs/hr_schema.json"],
        "csv-to-json-validate",
        {
            "csv_path": "inputs/employees.csv",
            "schema_path": "inputs/hr_schema.json",
            "json_path": "outputs/staff.json",
            "invalid_path": "outputs/errors.csv",
        },
    ),
    (
        "Here are some unit tests (test_textutils.py). Implement the module so they pass.",
        ["inputs/test_textutils.py"],
        "module-from-tests",
        {"tests_path": "inputs/test_textutils.py"},
    ),
    (
        "What is the volatility of the daily closes in coin.csv? It trades every day: annualise with 365 days a year.",
        ["inputs/coin.csv"],
        "price-volatility",
        {"csv_path": "inputs/coin.csv", "periods_per_year": 365},
    ),
    (
        "In pay.csv, fit a least squares line with wage as the dependent variable and tenure as the "
        "predictor.",
        ["inputs/pay.csv"],
        "linear-regression",
        {"x": "tenure", "y": "wage"},
    ),
    (
        "How does fuel economy (mpg) change with engine size (engine_size_l) in cars.csv? Fit a line.",
        ["inputs/cars.csv"],
        "linear-regression",
        {"x": "engine_size_l", "y": "mpg"},
    ),
    (
        "Plot weight (kg) against height (cm) from body.csv with a fitted line and its slope.",
        ["inputs/body.csv"],
        "linear-regression",
        {"x": "height", "y": "weight"},
    ),
    (
        "I need a briefing note on urban beekeeping: find three good sources and save it as bees.md.",
        [],
        "web-research",
        {"query": "urban beekeeping", "k": 3},
    ),
    (
        "What does recent evidence say about cold showers for recovery? Look up a few articles and write "
        "a report.",
        [],
        "web-research",
        {"query": "cold showers for recovery"},
    ),
    (
        "prices.csv has one column per ticker. What is the annualised volatility of NVDA? Chart it.",
        ["inputs/prices.csv"],
        "price-volatility",
        {"csv_path": "inputs/prices.csv", "hint_columns": ["NVDA"]},
    ),
    (
        "coin.csv has daily closes for 2023. Give the annualised volatility from 1 July 2023 onwards.",
        ["inputs/coin.csv"],
        "price-volatility",
        {"start": "2023-07-01"},
    ),
    (
        "What was the annualized volatility of the fund over the last 6 months? Daily NAVs are in nav.csv.",
        ["inputs/nav.csv"],
        "price-volatility",
        {"last": "6M"},
    ),
    (
        "Volatility of stock.csv between March 2023 and June 2023, please.",
        ["inputs/stock.csv"],
        "price-volatility",
        {"start": "2023-03-01", "end": "2023-06-30"},
    ),
    (
        "From ads.csv, regress revenue on online spend and say what revenue it predicts when online spend "
        "is 50.",
        ["inputs/ads.csv"],
        "linear-regression",
        {"x": "online spend", "y": "revenue", "predict_at": 50.0},
    ),
    (
        "How does delivery_minutes relate to distance_km in trips.csv? Fit a line and give the slope.",
        ["inputs/trips.csv"],
        "linear-regression",
        {"x": "distance_km", "y": "delivery_minutes"},
    ),
    (
        "Look into how well heat pumps work in cold climates: find sources and write reports/heat.md.",
        [],
        "web-research",
        {"query": "heat pumps work in cold climates"},
    ),
    (
        "How are electric vehicle batteries recycled? Search the web, read three good sources and write "
        "a report.",
        [],
        "web-research",
        {"query": "electric vehicle batteries recycled", "k": 3},
    ),
    (
        "Summarise what four different sources say about lithium mining. Save it to lithium.md.",
        [],
        "web-research",
        {"query": "lithium mining", "k": 4},
    ),
    (
        "Please list every open position on http://127.0.0.1:9000/careers.html with a link to the job ad, "
        "as markdown in roles.md.",
        [],
        "page-links-to-markdown",
        {"output_path": "outputs/roles.md"},
    ),
    (
        "Find the maximum nightly price in each city of the API at http://127.0.0.1:9000/rentals.json.",
        [],
        "json-api-aggregate",
        {"group_by": "city", "operation": "max", "field": "price"},
    ),
    (
        "What is the cheapest price per room_type in the API http://127.0.0.1:9000/rentals.json?",
        [],
        "json-api-aggregate",
        {"group_by": "room_type", "operation": "min", "field": "price"},
    ),
    (
        "The sales API is at http://127.0.0.1:9000/sales.json. Revenue per sale is qty × unit_price. Compute total "
        "revenue per product category and save it to revenue.json.",
        [],
        "json-api-aggregate",
        {"group_by": "product category", "operation": "sum", "field": "qty*unit_price"},
    ),
    (
        "What is the total number of downloads across all packages in the API http://127.0.0.1:9000/p.json? "
        'Save it as total.json in the form {"total_downloads": N}.',
        [],
        "json-api-aggregate",
        {"group_by": None, "operation": "sum", "field": "downloads", "output_key": "total_downloads"},
    ),
    (
        "Create wordstats.py that satisfies the tests in test_wordstats.py; put it in the outputs folder.",
        ["inputs/test_wordstats.py"],
        "module-from-tests",
        {"tests_path": "inputs/test_wordstats.py"},
    ),
    ("vol + chart for gold.csv -> gold_vol.png", ["inputs/gold.csv"], "price-volatility", {}),
    (
        "Using acme_weekly.csv, what is the annualized volatility? Chart the price.",
        ["inputs/acme_weekly.csv"],
        "price-volatility",
        {"periods_per_year": 52},
    ),
    (
        "Fit y = a + b*x where y is crop_yield and x is rainfall_mm in farm.csv; give a, b and R^2.",
        ["inputs/farm.csv"],
        "linear-regression",
        {"x": "rainfall_mm", "y": "crop_yield"},
    ),
    (
        "OLS of sales on tv_spend (ads.csv); report coefficient, constant and R2; plot -> ads.png",
        ["inputs/ads.csv"],
        "linear-regression",
        {"x": "tv_spend", "y": "sales"},
    ),
    (
        "Does exam_score go up with hours_studied? scores.csv. Chart: scores.png",
        ["inputs/scores.csv"],
        "linear-regression",
        {"x": "hours_studied", "y": "exam_score"},
    ),
    (
        "Grab every member org + hyperlink off http://127.0.0.1:9000/members.html and dump them into "
        "members.md as markdown.",
        [],
        "page-links-to-markdown",
        {"output_path": "outputs/members.md"},
    ),
    (
        "What is known about coral reef bleaching? Find and read three good sources and put a summary "
        "with references into coral_digest.md.",
        [],
        "web-research",
        {"query": "coral reef bleaching", "k": 3},
    ),
    (
        "Put together a brief on grid-scale battery storage with citations, save to battery.md.",
        [],
        "web-research",
        {"query": "grid-scale battery storage"},
    ),
    (
        "Pull every page of http://127.0.0.1:9000/orders/page-1.json, compute group totals of amount by "
        "region and write them to by_region.json.",
        [],
        "json-api-aggregate",
        {"group_by": "region", "operation": "sum", "field": "amount"},
    ),
    (
        "Tally the helpdesk tickets by status across all pages starting at "
        "http://127.0.0.1:9000/tickets/page-1.json; write the tally to tally.json.",
        [],
        "json-api-aggregate",
        {"group_by": "status", "operation": "count"},
    ),
    (
        "Is the buzz around the KettlePro getting better or worse? kettle_posts.csv; plot it weekly.",
        ["inputs/kettle_posts.csv"],
        "sentiment-trend",
        {"posts_path": "inputs/kettle_posts.csv"},
    ),
    (
        "Regress Weekly Revenue ($k) on Ad Spend ($k) using shop.csv and plot the fit as shop.png.",
        ["inputs/shop.csv"],
        "linear-regression",
        {"x": "Ad Spend ($k)", "y": "Weekly Revenue ($k)", "chart_path": "outputs/shop.png"},
    ),
    (
        "Is there a linear relationship between Floor Area and Sale Price in homes.tsv? Treat Sale Price "
        "as the response and give the slope.",
        ["inputs/homes.tsv"],
        "linear-regression",
        {"csv_path": "inputs/homes.tsv", "x": "Floor Area", "y": "Sale Price"},
    ),
    (
        "Write me a short report, with sources, on the history of tea clippers. Save it as tea.md.",
        [],
        "web-research",
        {"query": "history of tea clippers"},
    ),
    (
        "What are the pros and cons of heat pumps? Put together a brief that cites three references.",
        [],
        "web-research",
        {"query": "heat pumps", "k": 3},
    ),
    (
        "Pull the tools listed at http://127.0.0.1:9000/tools.html, each with its link, into tools.md.",
        [],
        "page-links-to-markdown",
        {"output_path": "outputs/tools.md"},
    ),
    (
        "The orders API pages are at http://127.0.0.1:9000/orders/page-1.json (page N at page-N.json). "
        "Sum the total per country and save it to country_totals.json.",
        [],
        "json-api-aggregate",
        {"group_by": "country", "operation": "sum", "output_path": "outputs/country_totals.json"},
    ),
    (
        "How many alerts of each severity does the API at http://127.0.0.1:9000/alerts.json list?",
        [],
        "json-api-aggregate",
        {"group_by": "severity", "operation": "count"},
    ),
]

OUT_OF_FAMILY = [
    "Translate this letter into Spanish.",
    "Write a haiku about autumn leaves.",
    "What is the capital of Peru?",
    "Book a table for two tonight at an Italian restaurant.",
    "Plan a three-day trip to Rome on a budget.",
    "Resize holiday.jpg to 800 pixels wide.",
    "Check which links on http://127.0.0.1:9000/shop.html are broken and list them in broken.md.",
    "Fit a logistic regression of churned on tenure in customers.csv and plot it.",
    "Using ads.csv, fit a multiple linear regression of revenue on tv, radio and online together.",
    "How many links on http://127.0.0.1:9000/page.html point to an external website?",
]


def test_capability_records_are_well_formed():
    for cap in CAPABILITIES:
        assert __import__("re").match(NAME, cap.name) and len(cap.name) <= 64
        assert set(cap.tools) <= {"llm", "web_fetch", "web_search"}
        assert len(cap.description) <= 1024 and cap.triggers and cap.strong
        tree = ast.parse(cap.code)
        doc = ast.get_docstring(tree) or ""
        for part in ("Purpose", "Inputs", "Outputs", "Limitations"):
            assert part in doc, (cap.name, part)
        assert any(isinstance(n, ast.FunctionDef) and n.name == "run" for n in tree.body)
        imports = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imports |= {
            n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
        }
        assert imports <= {
            "numpy",
            "pandas",
            "matplotlib",
            "requests",
            "bs4",
            "yaml",
            "agentfactory_tools",
        } | set(__import__("sys").stdlib_module_names), (cap.name, imports)
        if cap.buggy_edits:
            assert cap.buggy_code != cap.code and cap.bug
    assert sum(1 for c in CAPABILITIES if c.buggy_edits) >= 3


@pytest.mark.parametrize(("text", "files", "name", "expected"), VARIANTS)
def test_extract_inputs_reads_unseen_phrasings(text, files, name, expected):
    p = plan(text, files)
    assert p is not None and p.chain[0].name == name, match(text)
    for key, value in expected.items():
        assert p.inputs.get(key) == value, (key, p.inputs)


def test_research_chains_into_the_report():
    text = "Research the history of tea: read three sources and write tea.md."
    p = plan(text, [])
    assert [c.name for c in p.chain] == ["web-research", "markdown-report"]
    nxt = p.next_inputs(0, {"sources_path": "outputs/sources.json"}, p.inputs, text, [])
    assert nxt["report_path"] == "outputs/tea.md" and nxt["sources_path"] == "outputs/sources.json"
    assert not get("markdown-report").head


@pytest.mark.parametrize("text", OUT_OF_FAMILY)
def test_a_task_outside_every_family_matches_nothing(text):
    assert match(text) == [] and plan(text, []) is None


def test_no_match_when_inputs_cannot_be_read():
    # The family fits but the file it needs is not there: the model cannot proceed.
    assert plan("Compute the annualised volatility of the stock prices.", []) is None


def test_comparing_several_series_is_not_one_volatility_run():
    files = ["inputs/alpha.csv", "inputs/beta.csv", "inputs/gamma.csv"]
    text = "Which of alpha.csv, beta.csv or gamma.csv had the highest annualised volatility?"
    assert plan(text, files) is None


def test_triggers_are_word_prefixes():
    assert _hit("api", "the /api/ endpoint") and not _hit("api", "rapid growth")
    assert _hit(r"vol\b", "vol + chart") and not _hit(r"vol\b", "trading volume")
    assert _hit(".py", "write stats.py")  # a trigger starting with punctuation may end a word


def _write(tmp_path, name, text):
    (tmp_path / "inputs").mkdir(exist_ok=True)
    (tmp_path / "inputs" / name).write_text(text)


@pytest.mark.slow
def test_code_generalises_to_unseen_files_and_buggy_drafts_fail_when_run(tmp_path):
    rng = random.Random(1)
    rows = ["Day,Ticker,Adj Close"] + [
        f"2024-02-{d:02d},XYZ,{100 + rng.uniform(-3, 3):.2f}" for d in range(1, 29)
    ]
    _write(tmp_path, "xyz.csv", "\n".join(rows) + "\n")
    inputs = {"csv_path": "inputs/xyz.csv", "periods_per_year": 252, "chart_path": "outputs/xyz.png"}
    result = run_on_host(get("price-volatility").code, "price_volatility", inputs, tmp_path)
    assert result["price_column"] == "Adj Close" and result["n_returns"] == 27
    with pytest.raises(HostRunError, match="KeyError"):
        run_on_host(get("price-volatility").buggy_code, "price_volatility", inputs, tmp_path)

    _write(tmp_path, "pairs.csv", "a,b\n1,2.1\n2,\n3,6.2\n4,7.9\n,9\n5,10.1\n")
    inputs = {"csv_path": "inputs/pairs.csv", "x": "a", "y": "b", "chart_path": "outputs/p.png"}
    result = run_on_host(get("linear-regression").code, "linear_regression", inputs, tmp_path)
    assert result["n"] == 4 and result["dropped"] == 2 and result["slope"] == pytest.approx(2.0, abs=0.1)
    with pytest.raises(HostRunError):
        run_on_host(get("linear-regression").buggy_code, "linear_regression", inputs, tmp_path)

    _write(
        tmp_path,
        "s.json",
        json.dumps({"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}),
    )
    _write(tmp_path, "d.csv", "n,label\n1,a\n,b\nx,c\n")
    inputs = {
        "csv_path": "inputs/d.csv",
        "schema_path": "inputs/s.json",
        "json_path": "outputs/d.json",
        "invalid_path": "outputs/bad.csv",
    }
    result = run_on_host(get("csv-to-json-validate").code, "csv_to_json_validate", inputs, tmp_path)
    assert (result["valid"], result["invalid"]) == (1, 2)
    with pytest.raises(HostRunError, match="ValueError"):
        run_on_host(get("csv-to-json-validate").buggy_code, "csv_to_json_validate", inputs, tmp_path)


def test_sim_llm_answers_are_deterministic_and_general():
    ask = "Classify the sentiment of this post as positive, negative or neutral. Answer with one word.\n\nPost: {}"
    assert sim_llm_answer(ask.format("Absolutely love this kettle, works great"), None) == "positive"
    assert sim_llm_answer(ask.format("The lid is not good and it leaks"), None) == "negative"
    assert sim_llm_answer(ask.format("It arrived on Tuesday."), None) == "neutral"
    text = (
        "Tidal power uses the rise and fall of the sea. Tidal power plants are predictable. "
        "The first tidal power station opened in France in 1966. Costs remain high for tidal power. "
        "Cats sleep a lot."
    )
    summary = sim_llm_answer(f"Summarise the following text in 2 sentences.\n\n{text}", "You summarise.")
    assert summary == sim_llm_answer(
        f"Summarise the following text in 2 sentences.\n\n{text}", "You summarise."
    )
    assert summary.count(".") == 2 and "Cats" not in summary and summary.split(". ")[0] in text
    code = sim_llm_answer(
        "Write a Python module named palin.py defining is_palindrome so that these tests pass.", None
    )
    namespace: dict = {}
    exec(code.split("```python\n")[1].split("```")[0], namespace)
    assert namespace["is_palindrome"]("A man, a plan, a canal: Panama")
    assert "do not know" in sim_llm_answer(
        "Write a Python module named x.py defining fly_to_mars so that these tests pass.", None
    )
    assert sim_llm_answer("Tell me a joke", None) == "I cannot answer that request."
