"""The run engine: what every orchestrator (the Meta-Agent, evolve, the benchmark baselines) shares.

Run wiring (`run.open_run`), the tool loop (`loop`), budget, workspace, the regression gate, the
candidate store and the one execution path. It knows no Meta-Agent: prompts, meta skills and their
handlers live in `agentfactory.meta`, above it. Import the modules themselves; this package re-exports
nothing, so importing one part loads no other.
"""
