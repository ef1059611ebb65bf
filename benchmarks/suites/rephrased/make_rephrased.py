"""Generate the 'rephrased' suite: core's tasks asked in other words.

Terse commands, long polite requests, questions, numbered steps, British and American spelling,
synonyms (std dev, OLS, trendline, scrape, tally, digest, mood over time, make these tests green) and
output names given in other ways. Fixtures and expected values are core's (copied here; run
`python benchmarks/suites/rephrased/make_rephrased.py` after changing core). Output names in the checks
follow the new wording.
"""
import copy
import json
import shutil
from pathlib import Path

import yaml

ROOT = Path(__file__).parent
CORE = ROOT.parent / "core"
core = yaml.safe_load((CORE / "suite.yaml").read_text(encoding="utf-8"))
for folder in ("data", "site", "docs", "checks"):
    shutil.rmtree(ROOT / folder, ignore_errors=True)
    shutil.copytree(CORE / folder, ROOT / folder)
base = {t['id']: t for t in core['tasks']}

def rep(obj, ren):
    s = json.dumps(obj)
    for a, b in ren.items():
        s = s.replace(a, b)
    return json.loads(s)

def relabel(checks, old, new):
    for c in checks:
        an = c.get('answer_number')
        if an and an.get('label') == old:
            an['label'] = new
    return checks

T = []
def add(id, batch, src, text, ren={}, pair=None, labels={}):
    b = base[src]
    t = {'id': id, 'batch': batch, 'family': b['family'], 'text': text,
         'fixtures': copy.deepcopy(b['fixtures']), 'check': rep(b['check'], ren)}
    for o, n in labels.items():
        relabel(t['check'], o, n)
    if batch == 2:
        t['pair'] = pair
    T.append(t)

VOL = {'volatility': 'volatility|vol\\b|standard deviation|std'}
# price series
add('p-terse-acme', 1, 'price-vol-acme', 'vol + chart for acme_prices.csv -> acme_vol.png', {'acme_chart.png': 'acme_vol.png'}, labels=VOL)
add('p-list-initech', 1, 'price-weekly-initech', '1. load initech_weekly.csv (weekly closes)\n2. compute annualized vol using 52 weeks/yr\n3. compute the total return\n4. plot the price. output: initech_plot.png', {'initech_weekly.png': 'initech_plot.png'}, labels=VOL)
add('p-polite-globex', 2, 'price-vol-globex', "Hello! I'd be very grateful if you could take a look at globex_prices.csv, which has daily closing prices for Globex. Could you work out the standard deviation of daily returns, annualised, and also produce a line chart of the closing price? Please call the file globex_line.png. Thank you so much!", {'globex_chart.png': 'globex_line.png'}, 'p-terse-acme', labels=VOL)
add('p-question-umbrella', 2, 'price-weekly-umbrella', "What's the total return and the annualised volatility of Umbrella Corp's weekly prices in umbrella_weekly.csv? Name the chart umbrella_prices.png.", {'umbrella.png': 'umbrella_prices.png'}, 'p-list-initech', labels=VOL)
add('p-plotfirst-acme', 2, 'price-vol-acme', 'Plot the closing prices in acme_prices.csv to a PNG named acme_price_history.png, then tell me how volatile the stock is on an annualized basis.', {'acme_chart.png': 'acme_price_history.png'}, 'p-terse-acme', labels=VOL)
add('p-british-globex', 1, 'price-vol-globex', 'Please calculate the annualised volatility for Globex (globex_prices.csv) and visualise the closing price; save the figure as globex_fig.png.', {'globex_chart.png': 'globex_fig.png'})
# regression
add('r-bestfit-study', 1, 'regress-study', 'Find the line of best fit for exam_score vs hours_studied in study_hours.csv. Give the slope, intercept and R^2, and plot the points with the best-fit line as study_fit.png.', {'study_scatter.png': 'study_fit.png'})
add('r-ols-icecream', 1, 'regress-icecream', 'OLS: cones_sold ~ temperature_c, icecream.csv (drop missing rows). slope / intercept / R2. scatter -> icecream_ols.png', {'icecream.png': 'icecream_ols.png'})
add('r-trendline-ads', 2, 'regress-ads', "I've got ad_spend.csv. Can you add a trendline to a scatter of sales against tv_spend, save it as tv_trend.png, and tell me the trendline's slope, intercept and R squared?", {'ad_scatter.png': 'tv_trend.png'}, 'r-bestfit-study')
add('r-steps-rain', 2, 'regress-rain', 'Steps: 1) read rainfall_umbrellas.csv 2) fit umbrellas_sold = a + b*rain_mm by least squares 3) report b (slope), a (intercept) and the coefficient of determination R² 4) save a scatter with the fitted line, output: rain_fit.png', {'umbrellas.png': 'rain_fit.png'}, 'r-ols-icecream')
add('r-question-study', 2, 'regress-study', 'Is there a linear relationship between hours_studied and exam_score in study_hours.csv? Report the slope, intercept and R², and save a scatter graph with the regression line to hours_vs_score.png.', {'study_scatter.png': 'hours_vs_score.png'}, 'r-bestfit-study')
# extract
add('e-scrape-cs', 1, 'extract-cs-courses', 'Scrape {base_url}/site/uni/cs/courses.html for course titles + URLs -> courses.md (markdown). Count them.', {'cs_courses.md': 'courses.md'})
add('e-harvest-odf', 1, 'extract-odf-projects', "Please harvest the project links from the Open Data Foundation page at {base_url}/site/orgs/odf/projects.html. Name the markdown file projects_list.md, one bullet per project with its link. And how many are there?", {'odf_projects.md': 'projects_list.md'})
add('e-question-math', 2, 'extract-math-modules', 'How many modules does the maths department offer at {base_url}/site/uni/math/modules.html? Also save each module with its link as a markdown bullet list called modules.md.', {'math_modules.md': 'modules.md'}, 'e-scrape-cs')
add('e-grab-civic', 2, 'extract-civic-members', 'Grab every member org + hyperlink off {base_url}/site/orgs/civic/members.html and dump them into members.md as markdown. Number of members?', {'civic_members.md': 'members.md'}, 'e-harvest-odf')
add('e-produce-cs', 2, 'extract-cs-courses', 'Produce a markdown file, cs_list.md, that lists every course on {base_url}/site/uni/cs/courses.html as a link. Also: course count?', {'cs_courses.md': 'cs_list.md'}, 'e-scrape-cs')
# research
add('s-digest-battery', 1, 'research-battery', 'Compile a digest on grid-scale battery storage: look it up, go through the three best sources, and write it up in markdown with a summary section and citations. Output: battery_digest.md', {'battery_report.md': 'battery_digest.md'})
add('s-question-coral', 2, 'research-coral', 'What is known about coral reef bleaching? Find and read three good sources and put a summary with references into coral_digest.md (markdown).', {'coral_report.md': 'coral_digest.md'}, 's-digest-battery')
add('s-list-battery', 2, 'research-battery', '1. search for grid-scale battery storage\n2. read the top three hits\n3. write a markdown brief with a Summary and a Sources section citing them\n4. save as energy_storage.md', {'battery_report.md': 'energy_storage.md'}, 's-digest-battery')
# sentiment
add('m-mood-brewbox', 1, 'sentiment-brewbox', 'Track the mood over time in brewbox_posts.csv (posts about the BrewBox coffee maker), week by week. Tally the positive and negative posts, chart it (brewbox_mood.png), and tell me which way it is trending.', {'brewbox_sentiment.png': 'brewbox_mood.png'})
add('m-opinion-zephyr', 2, 'sentiment-zephyr', 'Opinion trend for the Zephyr scooter? zephyr_posts.json - weekly chart to zephyr_opinion.png, positive/negative counts, and is it improving or declining?', {'zephyr_trend.png': 'zephyr_opinion.png'}, 'm-mood-brewbox')
add('m-list-zephyr', 2, 'sentiment-zephyr', '1. read zephyr_posts.json\n2. label each post positive, negative or neutral\n3. plot weekly sentiment, name it zephyr_weekly.png\n4. report the totals and the direction (improving/declining)', {'zephyr_trend.png': 'zephyr_weekly.png'}, 'm-mood-brewbox')
# api
add('a-group-orders', 1, 'api-orders-by-region', 'Pull every page of {base_url}/site/api/shop/orders/page-1.json, compute group totals of amount by region and write them to sales_by_region.json. Top region?', {'region_totals.json': 'sales_by_region.json'})
add('a-question-sensors', 1, 'api-sensor-means', "What's the mean temperature for each sensor? Data: {base_url}/site/api/sensors/readings/page-1.json. Store the per-sensor averages in avg_temp.json and name the hottest sensor.", {'sensor_means.json': 'avg_temp.json'})
add('a-tally-tickets', 2, 'api-tickets-by-status', 'Tally the helpdesk tickets by status across all pages starting at {base_url}/site/api/helpdesk/tickets/page-1.json; write the tally to status_tally.json and tell me the most frequent status.', {'ticket_counts.json': 'status_tally.json'}, 'a-group-orders')
add('a-catalog-mean', 2, 'api-catalog-avg-price', "For the catalog at {base_url}/site/api/catalog/products/page-1.json (paginated, follow 'next'), I need the mean price by category in cat_prices.json. Which category has the highest average price?", {'category_avg_price.json': 'cat_prices.json'}, 'a-question-sensors')
# convert
add('c-export-customers', 1, 'convert-customers', 'Validate and export: customers.csv -> clean_customers.json, using customer_schema.json. Invalid rows (with reasons) go to bad_rows.csv. How many were invalid?', {'customers.json': 'clean_customers.json', 'invalid_rows.csv': 'bad_rows.csv'})
add('c-polite-products', 2, 'convert-products', 'Could you please check each row of products.csv against product_schema.json, export the ones that pass as JSON to valid_products.json, and put the failing rows along with why they failed into product_errors.csv? Let me know the number of invalid rows.', {'products.json': 'valid_products.json', 'rejected_products.csv': 'product_errors.csv'}, 'c-export-customers')
add('c-list-customers', 2, 'convert-customers', '1. read customers.csv\n2. validate every record against customer_schema.json\n3. write valid rows to customers_ok.json\n4. write rejects, with the reason, to customers_rejected.csv\n5. tell me how many were invalid', {'customers.json': 'customers_ok.json', 'invalid_rows.csv': 'customers_rejected.csv'}, 'c-export-customers')
# program
add('g-green-slugify', 1, 'program-slugify', 'Make these tests green: test_slugify.py. The module goes in outputs/slugify.py.')
add('g-roman-pytest', 2, 'program-roman', "Here's test_roman.py. Write the roman module it imports so that pytest passes, and save it to outputs/.", {}, 'g-green-slugify')
add('g-terse-slugify', 2, 'program-slugify', 'impl slugify.py per test_slugify.py -> outputs', {}, 'g-green-slugify')

def declared(tasks: list) -> list:
    """The tasks with what the simulated model needs (declarations.yaml, capabilities from ../core)."""
    path = ROOT / "declarations.yaml"
    decl = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    return [{**t, **decl.get(t["id"], {})} for t in tasks]


(ROOT / 'suite.yaml').write_text(yaml.safe_dump({'name': 'rephrased', 'description': "Core's tasks asked in other words.", 'capabilities_from': 'core', 'tasks': declared(T)}, sort_keys=False, allow_unicode=True, width=200), encoding='utf-8')
print(len(T))
