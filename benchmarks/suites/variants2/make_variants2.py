"""Generate the 'variants2' suite (seeded): a second independent hand on the core families.

Wide price files (one column per ticker), prices as JSON, files of returns, Nasdaq exports, column
names with spaces, capitals and units, tab-separated tables, table and definition-list pages, research
asked without the word "search", epoch and dd/mm/yyyy dates, page-number, cursor and top-level-array
APIs, schemas with enums, patterns and bounds, unittest-style tests, and two tasks outside every
family. Expected values are computed here with numpy/pandas/jsonschema, never by running the model.
Regenerate with `python benchmarks/suites/variants2/make_variants2.py`.
"""
import csv, json, math, random, re, shutil
from pathlib import Path
import numpy as np
import pandas as pd
import yaml, jsonschema

ROOT = Path(__file__).parent
for d in ("data", "site", "docs", "checks"):
    shutil.rmtree(ROOT / d, ignore_errors=True)
    (ROOT / d).mkdir(parents=True)
rng = np.random.default_rng(2024)
R = random.Random(99)
tasks = []

def w(rel, text):
    p = ROOT / rel; p.parent.mkdir(parents=True, exist_ok=True); p.write_text(text, encoding="utf-8")

def logvol(prices, per):
    r = np.diff(np.log(np.asarray(prices, float)))
    return float(np.std(r, ddof=1) * math.sqrt(per))

def gbm(n, s0, sig, per, mu=0.05):
    r = rng.normal(mu / per, sig / math.sqrt(per), n - 1)
    return s0 * np.exp(np.concatenate([[0], np.cumsum(r)]))

def vol_check(v, png, total=None):
    c = [{"answer_number": {"label": "volatil", "value": round(v, 6), "rel_tolerance": 0.02}}]
    if total is not None:
        c.append({"answer_number": {"label": "total return", "value": round(total, 6), "tolerance": 0.002}})
    c.append({"file_is_png": png}); return c

# ---------------- price series ----------------
days = pd.bdate_range("2023-03-01", periods=260)
wide = pd.DataFrame({"Date": days.strftime("%Y-%m-%d"), "AAPL": gbm(260, 151, 0.24, 252).round(2),
                     "MSFT": gbm(260, 250, 0.41, 252).round(2), "NVDA": gbm(260, 230, 0.62, 252).round(2)})
wide.to_csv(ROOT / "data/tech_prices.csv", index=False)
tasks.append(dict(id="vol-wide-ticker", batch=1, family="price-series",
    text="tech_prices.csv has daily closing prices for several tickers (one column per ticker). What is the annualised "
         "volatility of MSFT? Plot MSFT's price as msft.png.",
    fixtures={"files": ["data/tech_prices.csv"]}, check=vol_check(logvol(wide.MSFT, 252), "msft.png")))

ret = rng.normal(0.0004, 0.18 / math.sqrt(252), 250)
dd = pd.bdate_range("2024-01-02", periods=250)
pd.DataFrame({"date": dd.strftime("%Y-%m-%d"), "daily_return": ret.round(6)}).to_csv(ROOT / "data/zenith_returns.csv", index=False)
v = float(np.std(ret.round(6), ddof=1) * math.sqrt(252))
tasks.append(dict(id="vol-returns-given", batch=2, pair="vol-wide-ticker", family="price-series",
    text="zenith_returns.csv holds the daily returns of the Zenith Growth fund (already computed, as decimals). What's "
         "the annualized volatility? Also chart the cumulative growth of $1 as zenith.png.",
    fixtures={"files": ["data/zenith_returns.csv"]}, check=vol_check(v, "zenith.png")))

p = gbm(180, 88.0, 0.37, 252)
dd = pd.bdate_range("2024-02-01", periods=180)
w("data/kite_prices.json", json.dumps({"ticker": "KITE", "currency": "USD",
   "prices": [{"date": d, "close": round(float(x), 2)} for d, x in zip(dd.strftime("%Y-%m-%d"), p)]}, indent=1))
pr = np.array([round(float(x), 2) for x in p])
tasks.append(dict(id="vol-json-prices", batch=1, family="price-series",
    text="The file kite_prices.json contains daily closes for Kite Pharma. Calculate the annualised volatility and the "
         "total return over the period, and save a price chart as kite.png.",
    fixtures={"files": ["data/kite_prices.json"]}, check=vol_check(logvol(pr, 252), "kite.png", pr[-1] / pr[0] - 1)))

p = gbm(200, 61.0, 0.29, 252)
dd = pd.bdate_range("2024-01-02", periods=200)
rows = [[d.strftime("%m/%d/%Y"), f"${x:.2f}", rng.integers(1e6, 5e6), f"${x*0.99:.2f}", f"${x*1.01:.2f}", f"${x*0.985:.2f}"] for d, x in zip(dd, p)][::-1]
with open(ROOT / "data/qrx_nasdaq.csv", "w", newline="") as fh:
    wr = csv.writer(fh); wr.writerow(["Date", "Close/Last", "Volume", "Open", "High", "Low"]); wr.writerows(rows)
pr = np.array([round(float(x), 2) for x in p])
tasks.append(dict(id="vol-nasdaq-export", batch=2, pair="vol-json-prices", family="price-series",
    text="qrx_nasdaq.csv is a historical-quotes download from nasdaq.com for QRX (newest first, dollar signs). Give me "
         "the annualized volatility and total return, and a chart of the closing price saved as qrx.png.",
    fixtures={"files": ["data/qrx_nasdaq.csv"]}, check=vol_check(logvol(pr, 252), "qrx.png", pr[-1] / pr[0] - 1)))

# ---------------- regression ----------------
def ols(x, y):
    d = pd.DataFrame({"x": pd.to_numeric(x, errors="coerce"), "y": pd.to_numeric(y, errors="coerce")}).dropna()
    b, a = np.polyfit(d.x, d.y, 1); r2 = np.corrcoef(d.x, d.y)[0, 1] ** 2
    return b, a, r2

def reg_check(b, a, r2, png):
    return [{"answer_number": {"label": "slope", "value": round(b, 6), "rel_tolerance": 0.01}},
            {"answer_number": {"label": "intercept", "value": round(a, 6), "rel_tolerance": 0.01, "tolerance": 0.05}},
            {"answer_number": {"label": "R²|R\\^2|R2|r-squared|R squared", "value": round(r2, 6), "tolerance": 0.005}},
            {"file_is_png": png}]

n = 48; bud = rng.uniform(5, 60, n).round(1); sales = (120 + 4.2 * bud + rng.normal(0, 25, n)).round(1)
vis = rng.integers(1000, 9000, n)
df = pd.DataFrame({"Month": pd.period_range("2020-01", periods=n, freq="M").strftime("%Y-%m"), "Ad Budget ($k)": bud,
                   "Site Visits": vis, "Monthly Sales ($k)": sales})
df.to_csv(ROOT / "data/marketing.csv", index=False)
tasks.append(dict(id="reg-spaces-regress-on", batch=1, family="regression",
    text="Regress Monthly Sales ($k) on Ad Budget ($k) using marketing.csv. Report the slope, intercept and R², and "
         "save a scatter plot with the fitted line as marketing_fit.png.",
    fixtures={"files": ["data/marketing.csv"]}, check=reg_check(*ols(df["Ad Budget ($k)"], df["Monthly Sales ($k)"]), "marketing_fit.png")))

n = 40; fert = rng.uniform(0, 20, n).round(1); h = (12 + 1.35 * fert + rng.normal(0, 2.2, n)).round(2)
df = pd.DataFrame({"PlotID": [f"P{i:02d}" for i in range(n)], "Height_CM": h, "Water_ML": rng.integers(200, 400, n), "Fertilizer_G": fert})
df.to_csv(ROOT / "data/plant_trial.csv", index=False)
tasks.append(dict(id="reg-caps-y-on-x", batch=2, pair="reg-spaces-regress-on", family="regression",
    text="Using plant_trial.csv, regress Height_CM on Fertilizer_G (ignore Water_ML). What are the slope, intercept and "
         "R-squared? Include a scatter chart with the line, plant.png.",
    fixtures={"files": ["data/plant_trial.csv"]}, check=reg_check(*ols(df.Fertilizer_G, df.Height_CM), "plant.png")))

n = 55; age = rng.uniform(1, 15, n).round(1); price = (32000 - 1850 * age + rng.normal(0, 1800, n)).round(0)
df = pd.DataFrame({"Car Price": price, "Age (years)": age, "Mileage": (age * 12000 + rng.normal(0, 5000, n)).round(0)})
df.to_csv(ROOT / "data/used_cars.csv", index=False)
tasks.append(dict(id="reg-y-first-column", batch=1, family="regression",
    text="Is there a linear relationship between Age (years) and Car Price in used_cars.csv? Treat Car Price as the "
         "response. Give slope, intercept and R^2 and a scatter plot (used_cars.png).",
    fixtures={"files": ["data/used_cars.csv"]}, check=reg_check(*ols(df["Age (years)"], df["Car Price"]), "used_cars.png")))

n = 36; hrs = rng.uniform(0, 10, n).round(2); score = (55 + 3.9 * hrs + rng.normal(0, 5, n)).round(1)
with open(ROOT / "data/tutoring.tsv", "w", newline="") as fh:
    wr = csv.writer(fh, delimiter="\t"); wr.writerow(["Student", "Tutoring Hours", "Final Grade"])
    for i in range(n): wr.writerow([f"S{i}", hrs[i], score[i]])
tasks.append(dict(id="reg-tsv-vs", batch=2, pair="reg-y-first-column", family="regression",
    text="Plot Final Grade vs Tutoring Hours from tutoring.tsv (tab-separated) as a scatter with a best-fit line, "
         "grades.png, and report the slope, intercept and R².",
    fixtures={"files": ["data/tutoring.tsv"]}, check=reg_check(*ols(hrs, score), "grades.png")))

# ---------------- extract list ----------------
HEAD = ("<!doctype html>\n<html><head><meta charset='utf-8'><title>{t}</title></head>\n<body>\n<header><nav><ul>"
        "<li><a href=\"/\">Home</a></li><li><a href=\"/about.html\">About</a></li><li><a href=\"/contact.html\">Contact</a></li></ul></nav></header>\n")
FOOT = "<footer><p><a href=\"/terms.html\">Terms</a> · <a href=\"/privacy.html\">Privacy</a> · <a href=\"https://twitter.com/example\">Twitter</a></p></footer>\n</body></html>\n"
slug = lambda s: re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")

dsets = ["Global Temperature Anomalies", "City Bike Trips 2023", "Household Energy Survey", "Air Quality Index Daily",
         "Hospital Wait Times", "Public Library Loans", "River Water Levels"]
rows = "\n".join(f"<tr><td>{i+1}</td><td><a href=\"/site/data/ds/{slug(t)}.html\">{t}</a></td><td>{R.randint(2, 900)} MB</td>"
                 f"<td><a href=\"/site/data/licenses/cc-by.html\">CC-BY</a></td></tr>" for i, t in enumerate(dsets))
w("site/data/catalog.html", HEAD.format(t="Open Data Catalog") + "<main>\n<h1>Dataset catalog</h1>\n<p>Browse our <a href='/site/data/help.html'>help pages</a>.</p>\n"
  "<table>\n<thead><tr><th>#</th><th>Dataset</th><th>Size</th><th>License</th></tr></thead>\n<tbody>\n" + rows + "\n</tbody></table>\n</main>\n" + FOOT)
tasks.append(dict(id="extract-table-second-col", batch=1, family="extract-list",
    text="Pull the datasets listed in the table at {base_url}/site/data/catalog.html, each with its link, into "
         "datasets.md. How many datasets are there?",
    fixtures={"pages": ["site/data/catalog.html"]},
    check=[{"markdown_links_include": {"file": "datasets.md", "links": [f"/site/data/ds/{slug(t)}.html" for t in dsets], "min_links": 7}},
           {"file_contains": {"file": "datasets.md", "text": dsets}},
           {"file_not_contains": {"file": "datasets.md", "text": ["/site/data/licenses/"]}},
           {"answer_regex": r"(?<![\w./:$-])7(?![\w.%/-])"}]))

terms = ["Ansible", "Terraform", "Prometheus", "Grafana", "Vault", "Consul", "Kubernetes", "Helm"]
dl = "\n".join(f"<dt><a href=\"https://tools.example.org/{slug(t)}\">{t}</a></dt><dd>{t} is a widely used infrastructure tool.</dd>" for t in terms)
w("site/ops/toolbox.html", HEAD.format(t="Ops toolbox") + "<main>\n<h1>Our ops toolbox</h1>\n<dl>\n" + dl + "\n</dl>\n"
  "<aside><h3>Related</h3><a href='/site/ops/runbooks.html'>Runbooks</a></aside>\n</main>\n" + FOOT)
tasks.append(dict(id="extract-definition-list", batch=2, pair="extract-table-second-col", family="extract-list",
    text="Our wiki page {base_url}/site/ops/toolbox.html describes the tools we use. Save each tool with its URL as a "
         "markdown list in toolbox.md and tell me how many tools there are.",
    fixtures={"pages": ["site/ops/toolbox.html"]},
    check=[{"markdown_links_include": {"file": "toolbox.md", "links": [f"https://tools.example.org/{slug(t)}" for t in terms], "min_links": 8}},
           {"file_contains": {"file": "toolbox.md", "text": terms}},
           {"file_not_contains": {"file": "toolbox.md", "text": ["runbooks", "twitter"]}},
           {"answer_regex": r"(?<![\w./:$-])8(?![\w.%/-])"}]))

# ---------------- research ----------------
DOCS = {
 "noise-1": ("Noise pollution and heart disease", ["Long-term exposure to traffic noise is linked to higher blood pressure and heart disease.", "Night-time noise disrupts sleep and raises stress hormones.", "The WHO recommends road traffic noise below 53 decibels.", "Noise barriers and quieter road surfaces reduce exposure."]),
 "noise-2": ("How city noise affects sleep", ["Aircraft and road noise fragment sleep even when people do not wake up.", "Poor sleep from noise pollution is associated with daytime fatigue.", "Bedroom windows facing quiet courtyards help.", "Earplugs are a common but partial remedy."]),
 "noise-3": ("Children, schools and noise pollution", ["Children at schools near airports showed slower reading development.", "Chronic noise pollution impairs concentration and memory.", "Classroom insulation improved test scores in some studies.", "Cities are mapping noise to protect schools."]),
 "vfarm-1": ("Vertical farming: the promise", ["Vertical farming grows crops in stacked indoor layers under LED lights.", "It uses up to 95 percent less water than field farming.", "Farms can be located close to city consumers.", "Yields per square metre are very high for leafy greens."]),
 "vfarm-2": ("The energy problem of vertical farms", ["Vertical farms consume large amounts of electricity for lighting and cooling.", "Several vertical farming start-ups went bankrupt when energy prices rose.", "Only high-value crops like herbs and lettuce are profitable.", "Renewable power could improve the economics."]),
 "vfarm-3": ("Vertical farming and food security", ["Supporters argue vertical farming can protect food supply from droughts.", "Critics say it cannot grow staple crops like wheat economically.", "Controlled environments eliminate most pesticide use.", "Automation reduces labour costs."]),
 "misc-a": ("Choosing a road bike", ["Frame size matters more than weight.", "Disc brakes work better in rain.", "Try before you buy.", "Tyre width affects comfort."]),
 "misc-b": ("Sourdough baking for beginners", ["A starter needs daily feeding.", "Long fermentation develops flavour.", "Use a dutch oven for crust.", "Hydration affects crumb."]),
}
for key, (title, sents) in DOCS.items():
    w(f"docs/{key}.md", f"---\ntitle: {json.dumps(title)}\nurl: '{{base_url}}/site/articles/{key}.html'\n---\n# {title}\n\n{sents[0]}\n")
    w(f"site/articles/{key}.html", HEAD.format(t=title) + f"<main>\n<h1>{title}</h1>\n" + "".join(f"<p>{s}</p>\n" for s in sents) + "</main>\n" + FOOT)
ALLDOCS = [f"docs/{k}.md" for k in DOCS]; ALLPAGES = [f"site/articles/{k}.html" for k in DOCS]
def research(id_, batch, text, out, prefix, word, pair=None):
    t = dict(id=id_, batch=batch, family="search-summarise", text=text, fixtures={"documents": ALLDOCS, "pages": ALLPAGES},
             check=[{"markdown_links_include": {"file": out, "links": [f"/site/articles/{prefix}-{i}.html" for i in (1, 2, 3)]}},
                    {"file_contains": {"file": out, "text": [word]}},
                    {"file_not_contains": {"file": out, "text": ["sourdough", "road bike"]}},
                    {"answer_contains": out}])
    if pair: t["pair"] = pair
    tasks.append(t)
research("research-no-search-word", 1, "Write me a short report, with sources, on the health effects of noise pollution. "
         "Save it as noise_health.md.", "noise_health.md", "noise", "noise")
research("research-pros-cons", 2, "What are the pros and cons of vertical farming? Put together a brief in markdown "
         "(vertical_farming.md) that cites three references.", "vertical_farming.md", "vfarm", "vertical farm", pair="research-no-search-word")

# ---------------- sentiment ----------------
POS = ["Absolutely love this blender, works great!", "Fantastic quality, very happy with it.", "Excellent smoothies every morning, highly recommend.",
       "Best kitchen purchase this year, amazing.", "Great value and easy to clean."]
NEG = ["Terrible, it broke after a week.", "Awful noise and the lid leaks, very disappointed.", "Worst purchase ever, the motor burned out.",
       "Poor build quality, I hate it.", "Horrible customer service, returned it."]
NEU = ["Arrived on Tuesday.", "Does anyone know the wattage?", "Bought it for my sister."]
def gen(ndays, start, p0, p1, per_day):
    out = []
    for d in range(ndays):
        pp = p0 + (p1 - p0) * d / (ndays - 1)
        for j in range(per_day):
            lab = "neutral" if R.random() < 0.15 else ("positive" if R.random() < pp else "negative")
            ts = start + pd.Timedelta(days=d, hours=R.randint(6, 22), minutes=R.randint(0, 59))
            out.append((ts, lab, R.choice({"positive": POS, "negative": NEG, "neutral": NEU}[lab])))
    return sorted(out, key=lambda x: x[0])
ps = gen(14, pd.Timestamp("2024-05-01"), 0.15, 0.9, 4)
with open(ROOT / "data/blender_posts.csv", "w", newline="") as fh:
    wr = csv.writer(fh); wr.writerow(["post_id", "timestamp", "user", "text"])
    for i, (t, l, x) in enumerate(ps): wr.writerow([i + 1, int(t.timestamp()), f"user{R.randint(1, 99)}", x])
npos = sum(l == "positive" for _, l, _ in ps); nneg = sum(l == "negative" for _, l, _ in ps)
def sent_check(word, other, png):
    return [{"answer_contains": word}, {"answer_not_contains": [other]},
            {"answer_number": {"label": "positive", "value": npos, "tolerance": 0}},
            {"answer_number": {"label": "negative", "value": nneg, "tolerance": 0}}, {"file_is_png": png}]
tasks.append(dict(id="sentiment-unix-daily", batch=1, family="sentiment-trend",
    text="blender_posts.csv has forum posts about our VortexPro blender; the timestamp column is Unix epoch seconds. "
         "Score the sentiment of each post, chart the daily average sentiment as blender_daily.png, and tell me if "
         "sentiment is improving or declining, with how many posts were positive and negative.",
    fixtures={"files": ["data/blender_posts.csv"]}, check=sent_check("improving", "declining", "blender_daily.png")))

ps = gen(12, pd.Timestamp("2024-03-10"), 0.9, 0.1, 5)
with open(ROOT / "data/feedback_uk.csv", "w", newline="") as fh:
    wr = csv.writer(fh); wr.writerow(["Comment", "Posted"])
    for t, l, x in ps: wr.writerow([x, t.strftime("%d/%m/%Y")])
npos = sum(l == "positive" for _, l, _ in ps); nneg = sum(l == "negative" for _, l, _ in ps)
tasks.append(dict(id="sentiment-ddmm-daily", batch=2, pair="sentiment-unix-daily", family="sentiment-trend",
    text="feedback_uk.csv holds customer comments about the blender (dates are dd/mm/yyyy). Is the mood getting better or "
         "worse day by day? Plot it as feedback_trend.png and give the number of positive and negative comments.",
    fixtures={"files": ["data/feedback_uk.csv"]}, check=sent_check("declining", "improving", "feedback_trend.png")))

# ---------------- JSON API ----------------
stages = ["lead", "qualified", "proposal", "won"]
deals = [{"id": 500 + i, "stage": R.choice(stages), "amount": round(R.uniform(1000, 50000), 2), "owner": R.choice(["kim", "raj", "lou"])} for i in range(67)]
pages = []
chunks = [deals[i:i + 20] for i in range(0, 67, 20)]
for i, c in enumerate(chunks):
    name = f"site/api/crm/deals/page-{i+1}.json"
    w(name, json.dumps({"page": i + 1, "per_page": 20, "total_pages": len(chunks), "total": 67, "data": c}, indent=1)); pages.append(name)
exp = pd.DataFrame(deals).groupby("stage").amount.mean().round(2).to_dict(); top = max(exp, key=exp.get)
tasks.append(dict(id="api-total-pages", batch=1, family="json-api",
    text="The CRM API returns deals page by page: {base_url}/site/api/crm/deals/page-1.json is the first page, page N is "
         "at page-N.json and each response has a total_pages field. Compute the mean amount per stage over all pages, "
         "save it to stage_means.json and tell me which stage has the highest mean.",
    fixtures={"pages": pages},
    check=[{"json_equals": {"file": "stage_means.json", "value": exp, "tolerance": 0.01}}, {"answer_contains": top}]))

regions = ["north", "south", "east", "west"]
tix = [{"ticket": f"T-{900+i}", "region": R.choice(regions), "hours": round(R.uniform(0.5, 12), 1)} for i in range(51)]
cur = ["start", "c8f2a1", "d91b7e", "e04c33"]
chunks = [tix[i:i + 15] for i in range(0, 51, 15)]
pages = []
for i, c in enumerate(chunks):
    name = f"site/api/helpdesk/tickets/{cur[i]}.json"
    w(name, json.dumps({"records": c, "next_cursor": cur[i + 1] if i + 1 < len(chunks) else None}, indent=1)); pages.append(name)
exp = {k: int(v) for k, v in pd.DataFrame(tix).groupby("region").size().to_dict().items()}; top = max(exp, key=exp.get)
tasks.append(dict(id="api-cursor", batch=2, pair="api-total-pages", family="json-api",
    text="The helpdesk API uses cursor pagination: start at {base_url}/site/api/helpdesk/tickets/start.json; while "
         "next_cursor is not null, the next page is {base_url}/site/api/helpdesk/tickets/<next_cursor>.json. Count the "
         "tickets per region, save the counts to tickets_by_region.json and say which region has the most tickets.",
    fixtures={"pages": pages},
    check=[{"json_equals": {"file": "tickets_by_region.json", "value": exp}}, {"answer_contains": top}]))

whs = ["berlin", "lyon", "porto"]
items = [{"sku": f"SKU{1000+i}", "warehouse": R.choice(whs), "qty": R.randint(0, 400), "price": round(R.uniform(2, 80), 2)} for i in range(40)]
w("site/api/stock/items.json", json.dumps(items, indent=1))
exp = {k: int(v) for k, v in pd.DataFrame(items).groupby("warehouse").qty.sum().to_dict().items()}; top = max(exp, key=exp.get)
tasks.append(dict(id="api-top-level-array", batch=2, pair="api-total-pages", family="json-api",
    text="{base_url}/site/api/stock/items.json returns all stock items as a JSON array. Sum qty per warehouse, write the "
         "totals to warehouse_qty.json, and tell me which warehouse holds the most units.",
    fixtures={"pages": ["site/api/stock/items.json"]},
    check=[{"json_equals": {"file": "warehouse_qty.json", "value": exp}}, {"answer_contains": top}]))

# ---------------- convert & validate ----------------
def invalid_check(name, n):
    w(f"checks/{name}.py", f'''import csv, glob, os

def check(answer, outputs_dir, fixtures_dir):
    inputs = {{os.path.basename(p) for p in glob.glob(os.path.join(str(fixtures_dir), "*"))}}
    for path in sorted(glob.glob(os.path.join(str(outputs_dir), "*.csv"))):
        if os.path.basename(path) in inputs:
            continue
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        cols = [c.lower() for c in (rows[0].keys() if rows else [])]
        if len(rows) == {n} and any(k in c for c in cols for k in ("error", "reason", "message", "problem")):
            return True, f"{{os.path.basename(path)}}: {n} rows with a reason column"
        return False, f"{{os.path.basename(path)}}: {{len(rows)}} rows, columns {{cols}}"
    return False, "no invalid-rows CSV in outputs"
''')
    return {"python": f"checks/{name}.py"}

osch = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
    "required": ["order_id", "order_date", "status", "quantity", "unit_price"], "additionalProperties": False,
    "properties": {"order_id": {"type": "string", "pattern": "^ORD-[0-9]{5}$"},
                   "order_date": {"type": "string", "format": "date", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"},
                   "status": {"type": "string", "enum": ["pending", "shipped", "delivered", "cancelled"]},
                   "quantity": {"type": "integer", "minimum": 1, "maximum": 100},
                   "unit_price": {"type": "number", "exclusiveMinimum": 0},
                   "coupon": {"type": ["string", "null"], "maxLength": 10}}}
w("data/order.schema.json", json.dumps(osch, indent=2))
rows = [{"order_id": f"ORD-{20000+i*37}", "order_date": f"2024-{1 + i % 12:02d}-{1 + i % 27:02d}",
         "status": ["pending", "shipped", "delivered", "cancelled"][i % 4], "quantity": str(1 + (i * 7) % 60),
         "unit_price": f"{3.5 + i * 1.25:.2f}", "coupon": ["", "SPRING10", ""][i % 3]} for i in range(22)]
rows[3]["order_id"] = "ORD-123"; rows[7]["status"] = "returned"; rows[11]["quantity"] = "250"
rows[14]["unit_price"] = "0"; rows[18]["order_date"] = "18/07/2024"; rows[20]["quantity"] = "2.5"
with open(ROOT / "data/orders.csv", "w", newline="") as fh:
    wr = csv.DictWriter(fh, fieldnames=list(rows[0])); wr.writeheader(); wr.writerows(rows)
def typed_o(r):
    q = float(r["quantity"]); q = int(q) if q.is_integer() else q
    return {"order_id": r["order_id"], "order_date": r["order_date"], "status": r["status"], "quantity": q,
            "unit_price": float(r["unit_price"]), "coupon": r["coupon"] or None}
nv = sum(jsonschema.Draft202012Validator(osch).is_valid(typed_o(r)) for r in rows); print("orders valid", nv)
tasks.append(dict(id="convert-orders-constraints", batch=1, family="convert-validate",
    text="Turn orders.csv into orders.json; every record must satisfy order.schema.json. Write the rows that don't, with "
         "the reason, to order_problems.csv and tell me how many rows were invalid.",
    fixtures={"files": ["data/orders.csv", "data/order.schema.json"]},
    check=[{"json_valid": {"file": "orders.json", "schema": {"type": "array", "minItems": nv, "maxItems": nv, "items": osch}}},
           invalid_check("invalid_orders", 22 - nv),
           {"answer_number": {"label": "fail|invalid|reject", "value": 22 - nv, "tolerance": 0, "window": 40}}]))

psch = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
    "required": ["patient_id", "zip", "age", "blood_type", "visit_date"],
    "properties": {"patient_id": {"type": "integer", "minimum": 1}, "zip": {"type": "string", "pattern": "^[0-9]{5}$"},
                   "age": {"type": "integer", "minimum": 0, "maximum": 120},
                   "blood_type": {"type": "string", "enum": ["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"]},
                   "visit_date": {"type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"},
                   "bmi": {"type": "number", "minimum": 10, "maximum": 70}}}
w("data/patient.schema.json", json.dumps(psch, indent=2))
bts = ["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"]
rows = [{"patient_id": str(1 + i), "zip": f"0{2100 + i * 3}", "age": str(18 + (i * 5) % 70), "blood_type": bts[i % 8],
         "visit_date": f"2023-{1 + i % 12:02d}-{10 + i % 18}", "bmi": f"{19 + (i * 1.7) % 15:.1f}"} for i in range(18)]
rows[2]["age"] = "130"; rows[5]["blood_type"] = "C+"; rows[9]["zip"] = "2134"; rows[13]["bmi"] = "4.2"
with open(ROOT / "data/patients.csv", "w", newline="") as fh:
    wr = csv.DictWriter(fh, fieldnames=list(rows[0])); wr.writeheader(); wr.writerows(rows)
def typed_p(r):
    return {"patient_id": int(r["patient_id"]), "zip": r["zip"], "age": int(r["age"]), "blood_type": r["blood_type"],
            "visit_date": r["visit_date"], "bmi": float(r["bmi"])}
nv2 = sum(jsonschema.Draft202012Validator(psch).is_valid(typed_p(r)) for r in rows); print("patients valid", nv2)
tasks.append(dict(id="convert-patients-zip", batch=2, pair="convert-orders-constraints", family="convert-validate",
    text="Convert patients.csv to patients.json, checking each record against patient.schema.json (zip codes keep their "
         "leading zeros). Put the rejected rows and why they failed into patient_rejects.csv. How many were rejected?",
    fixtures={"files": ["data/patients.csv", "data/patient.schema.json"]},
    check=[{"json_valid": {"file": "patients.json", "schema": {"type": "array", "minItems": nv2, "maxItems": nv2, "items": psch}}},
           invalid_check("invalid_patients", 18 - nv2),
           {"answer_number": {"label": "fail|invalid|reject", "value": 18 - nv2, "tolerance": 0, "window": 40}}]))

# ---------------- program from unittest ----------------
w("checks/run_unittest.py", '''import sys, unittest, io
from pathlib import Path

def check(answer, outputs_dir, fixtures_dir):
    sys.path.insert(0, str(Path(outputs_dir).resolve()))
    suite = unittest.TestSuite()
    loader = unittest.TestLoader()
    for f in sorted(Path(fixtures_dir).glob("test_*.py")):
        sys.path.insert(0, str(Path(fixtures_dir).resolve()))
        try:
            suite.addTests(loader.loadTestsFromName(f.stem))
        except Exception as exc:
            return False, f"cannot load {f.name}: {exc}"
    if suite.countTestCases() == 0:
        return False, "no tests"
    res = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0).run(suite)
    bad = res.failures + res.errors
    if bad:
        return False, f"{len(bad)} of {res.testsRun} failed: " + "; ".join(str(t[0]) + ": " + t[1].strip().splitlines()[-1] for t in bad[:3])
    return True, f"all {res.testsRun} pass"
''')
PROGS = {
 "roman": ("program-roman-unittest", 1, None, "Here is test_roman.py (unittest). Write roman.py so that all the tests pass; save it to outputs.", '''import unittest
from roman import to_roman, from_roman

class TestRoman(unittest.TestCase):
    def test_basic(self):
        self.assertEqual(to_roman(1), "I")
        self.assertEqual(to_roman(4), "IV")
        self.assertEqual(to_roman(9), "IX")
        self.assertEqual(to_roman(1994), "MCMXCIV")
        self.assertEqual(to_roman(3999), "MMMCMXCIX")

    def test_parse(self):
        self.assertEqual(from_roman("XLII"), 42)
        self.assertEqual(from_roman("MMXXIV"), 2024)

    def test_round_trip(self):
        for n in range(1, 400):
            self.assertEqual(from_roman(to_roman(n)), n)

    def test_out_of_range(self):
        with self.assertRaises(ValueError):
            to_roman(0)
        with self.assertRaises(ValueError):
            to_roman(4000)

if __name__ == "__main__":
    unittest.main()
'''),
 "textkit": ("program-textkit-unittest", 2, "program-roman-unittest", "Implement textkit.py to satisfy the unittest suite in test_textkit.py and put it in outputs/.", '''import unittest
import textkit

class TextKitTests(unittest.TestCase):
    def test_word_frequency(self):
        self.assertEqual(textkit.word_frequency("the cat and the hat"), {"the": 2, "cat": 1, "and": 1, "hat": 1})
        self.assertEqual(textkit.word_frequency("Hello, hello!"), {"hello": 2})

    def test_is_palindrome(self):
        self.assertTrue(textkit.is_palindrome("A man, a plan, a canal: Panama"))
        self.assertFalse(textkit.is_palindrome("hello"))

    def test_celsius(self):
        self.assertAlmostEqual(textkit.celsius_to_fahrenheit(100), 212.0)
        self.assertAlmostEqual(textkit.celsius_to_fahrenheit(-40), -40.0)
        self.assertAlmostEqual(textkit.fahrenheit_to_celsius(32), 0.0)
'''),
 "algos": ("program-algos-unittest", 1, None, "Write algos.py (matrix transpose, binary search, bracket matching) so that the TestCase classes in test_algos.py pass. Save it in outputs.", '''import unittest
from algos import transpose, binary_search, is_balanced

class TestTranspose(unittest.TestCase):
    def test_square(self):
        self.assertEqual(transpose([[1, 2], [3, 4]]), [[1, 3], [2, 4]])
    def test_rect(self):
        self.assertEqual(transpose([[1, 2, 3]]), [[1], [2], [3]])
    def test_empty(self):
        self.assertEqual(transpose([]), [])

class TestSearch(unittest.TestCase):
    def test_found(self):
        self.assertEqual(binary_search([1, 3, 5, 7, 9], 7), 3)
    def test_missing(self):
        self.assertEqual(binary_search([1, 3, 5], 4), -1)

class TestBrackets(unittest.TestCase):
    def test_ok(self):
        self.assertTrue(is_balanced("([]{})"))
        self.assertTrue(is_balanced(""))
    def test_bad(self):
        self.assertFalse(is_balanced("(]"))
        self.assertFalse(is_balanced("(()"))
'''),
 "stats": ("program-stats-unittest", 2, "program-algos-unittest", "test_stats_utils.py contains unittest tests for a stats_utils module (mean, median, mode, variance). Write stats_utils.py so they pass and save it to outputs/stats_utils.py.", '''import unittest
from stats_utils import mean, median, mode, variance

class StatsTest(unittest.TestCase):
    def test_mean(self):
        self.assertAlmostEqual(mean([1, 2, 3, 4]), 2.5)
    def test_median(self):
        self.assertEqual(median([3, 1, 2]), 2)
        self.assertAlmostEqual(median([4, 1, 3, 2]), 2.5)
    def test_mode(self):
        self.assertEqual(mode([1, 2, 2, 3]), 2)
    def test_variance(self):
        self.assertAlmostEqual(variance([2, 4, 4, 4, 5, 5, 7, 9]), 4.571428571428571)
    def test_empty(self):
        with self.assertRaises(ValueError):
            mean([])
'''),
}
for key, (id_, b, pair, text, src) in PROGS.items():
    fname = "test_stats_utils.py" if key == "stats" else f"test_{key}.py"
    w(f"data/{fname}", src)
    mod = "stats_utils" if key == "stats" else key
    t = dict(id=id_, batch=b, family="program-from-tests", text=text, fixtures={"files": [f"data/{fname}"]},
             check=[{"file_exists": f"{mod}.py"}, {"python": "checks/run_unittest.py"}])
    if pair: t["pair"] = pair
    tasks.append(t)

# ---------------- outside every family ----------------
REFUSE = {"answer_contains_any": ["could not", "cannot", "can't", "unable", "not able", "outside"]}
w("data/names.txt", "\n".join(["Zoe", "adam", "Maria", "zoe", "Liam", "Maria", "Chen"]) + "\n")
tasks.append(dict(id="other-dedupe-sort", batch=1, family="none", out_of_scope=True,
    text="Sort the names in names.txt alphabetically, remove duplicates (case-insensitive) and save the result as names_sorted.txt.",
    fixtures={"files": ["data/names.txt"]}, check=[REFUSE]))
w("data/sales_q.csv", "quarter,region,revenue\nQ1,north,120\nQ1,south,95\nQ2,north,130\nQ2,south,101\n")
tasks.append(dict(id="other-pivot-excel", batch=1, family="none", out_of_scope=True,
    text="Pivot sales_q.csv so quarters are rows and regions are columns, and save it as an Excel workbook sales_pivot.xlsx.",
    fixtures={"files": ["data/sales_q.csv"]}, check=[REFUSE]))

order = sorted(tasks, key=lambda t: t["batch"])
def declared(tasks: list) -> list:
    """The tasks with what the simulated model needs (declarations.yaml, capabilities from ../core)."""
    path = ROOT / "declarations.yaml"
    decl = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    return [{**t, **decl.get(t["id"], {})} for t in tasks]


suite = {"name": "variants2", "description": "A second independent hand on the core families.", "capabilities_from": "core", "tasks": declared(order)}
suite = json.loads(json.dumps(suite, default=lambda o: o.item()))
(ROOT / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False, allow_unicode=True, width=120))
print(len(tasks), "tasks")
