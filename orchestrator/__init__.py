"""The orchestrator: a bounded, tool-using agent behind an Amazon Lex V2 fallback intent.

The public surface is small: ``Agent`` (the loop, in ``agent.py``), ``Registry``/``Tool`` (the one
declaration of each tool, in ``registry.py``) and ``lambda_handler`` (in ``handler.py``).
Nothing heavy is imported here: Lambda cold starts import this package.
"""
