"""`agentfactory mcp serve`: the library of the current project for any MCP host.

`service.py` holds what each tool does over the public API (library, sandbox, gate), with no MCP types;
`server.py` puts it behind the official `mcp` SDK (stdio or streamable HTTP); `config.py` renders the
configuration MCP clients need to start the server. Nothing here runs subagent code on the host.
"""
