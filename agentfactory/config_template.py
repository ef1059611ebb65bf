"""The agentfactory.toml that `agentfactory init` writes: every setting, commented, with its default.

Kept apart from config.py (which resolves the settings) because it is text for the user; a test checks
that it names every key of `config.KEYS`.
"""

CONFIG_TEMPLATE = """\
# agentfactory.toml: settings for AgentFactory in this directory and the folders below it (the nearest
# agentfactory.toml upwards is used, as git finds its repository; relative paths are relative to it).
# Precedence: command-line flag > environment variable (AGENTFACTORY_<NAME>) > this file > default.
# `agentfactory config show` prints every setting and where it came from.
# API keys are never stored here: set ANTHROPIC_API_KEY or OPENAI_API_KEY in the environment.

# Meta-Agent model: "anthropic:claude-opus-4-6", "openai:gpt-4.1", "openai:llama3.1" with a base URL,
# or "sim" (the deterministic simulated model; figures it produces are labelled simulated).
# Unset: a real provider whose key is set, else "sim".
# model = "anthropic:claude-sonnet-4-6"

# Model behind the `llm` tool skill that subagents call (default: same as model).
# subagent_model = "anthropic:claude-haiku-4-5"

# OpenAI-compatible servers (Ollama, vLLM, LM Studio, llama.cpp): point the openai adapter at them.
# openai_base_url = "http://127.0.0.1:11434/v1"
# anthropic_base_url = ""

library = "subagent_library"      # git repository of subagents
workspaces = "workspaces"         # one folder per run
sandbox = "docker"                # "docker" (isolated) or "local" (weaker: bubblewrap, never root; see the README)
# image = "agentfactory-sandbox:latest"
# sandbox_preload = "numpy,pandas,matplotlib"  # imported ahead in pre-started containers; "" = none
# timeout_s = 120                 # wall-clock limit per subagent execution
# memory_mb = 512

# Budgets per run: a run that reaches one stops cleanly with status budget_exhausted.
# max_steps = 40
# max_tokens = 2000000
# max_cost = 10.0
# max_time = 1800                 # wall clock of the whole run (s); default: no limit
# max_output_tokens = 32000       # per model call; default: the model's (see the models table)
# context_window = 200000         # tokens the model accepts; default: the model's
# compact_at = 0.75               # compact older tool results beyond this share of the window
# stream = "auto"                 # "auto" (when the live view is on a terminal), "on", "off"
# call_timeout_s = 300            # overall deadline of one model call (connect, whole reply, retries)
# thinking_budget = 8000          # extended thinking tokens per call (at least 1024); default: off
# evolve_thinking_budget = 8000   # the same for `agentfactory evolve`

# agent_id = "default"            # name of this agent in a team sharing one library
# trusted_agents = "alice, ci"    # agents whose runs count toward final answers and deploy, besides ours
# experience_db = "team.experience.sqlite"  # default: <library>.experience.sqlite beside it

# Tool skills of the subagents.
# web_search_backend = "auto"     # "auto", "local", "brave" (BRAVE_API_KEY), "tavily" (TAVILY_API_KEY)
# web_search_dir = "search_docs"  # documents searched by the "local" backend
# web_fetch_allow_loopback = false  # let web_fetch reach 127.0.0.1 (local test servers only)

# deploy_min_runs = 3             # successful recorded runs before `deploy` exports a subagent
# final_answers = true            # run_subagent(final=true) may end a run with a mature subagent's result
# final_min_runs = 3              # earlier successful runs a subagent needs before its result is final

# Price table, USD per million tokens (defaults cover current Anthropic and OpenAI models).
# [prices."my-local-model"]
# input = 0.0
# output = 0.0

# MCP servers whose tools subagents may call as tool skills named NAME.tool (NAME is an identifier).
# The servers run on this machine, started when a run first needs them; ${VAR} is read from the
# environment. A stdio server: command, args, env (cwd); a streamable HTTP one: url, headers.
# [mcp_servers.github]
# command = "npx"
# args = ["-y", "@modelcontextprotocol/server-github"]
# env = { GITHUB_PERSONAL_ACCESS_TOKEN = "${GITHUB_TOKEN}" }
# timeout = 60                    # seconds one tool call may take
# [mcp_servers.docs]
# url = "https://mcp.example.com/mcp"
# headers = { Authorization = "Bearer ${DOCS_TOKEN}" }
"""
