"""`python -m agentfactory`: the same command line as the `agentfactory` script."""

from agentfactory.cli import main

if __name__ == "__main__":
    main()
