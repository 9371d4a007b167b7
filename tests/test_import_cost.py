"""The handler's import must stay light: nothing heavy at module load (figures: benchmarks/import_cost.py)."""
import subprocess
import sys

HEAVY = ("numpy", "wordllama", "boto3", "botocore", "sagemaker", "torch", "tools")


def test_importing_the_handler_loads_no_heavy_module():
    code = (
        "import sys, orchestrator.handler\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
