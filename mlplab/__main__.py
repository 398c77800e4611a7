"""`python -m mlplab`: the `mlplab` command."""
from .cli import entry

if __name__ == "__main__":
    entry()
