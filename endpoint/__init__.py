"""The Flan-UL2 JumpStart model, pinned in one place, and commands that look it up or deploy it.

The pinned 1.x version serves the ``{"text_inputs", "max_length", "do_sample"}`` request the
orchestrator's ``jumpstart`` payload format sends; 2.x serves TGI's ``{"inputs", "parameters"}``
(set ``SageMakerPayloadFormat=tgi``). Nothing here is imported by Lambda code; the sagemaker SDK
is an optional extra (``pip install 'lex-llm-agent[endpoint]'``) needed only by these commands.
"""

MODEL_ID = "huggingface-text2text-flan-ul2-bf16"
MODEL_VERSION = "1.1.2"
PAYLOAD_FORMAT = "jumpstart"
DEFAULT_INSTANCE_TYPE = "ml.g5.12xlarge"
# The template's model environment sets these too (TorchServe: one worker holds the 20B model).
MODEL_ENV = {"TS_DEFAULT_WORKERS_PER_MODEL": "1", "SAGEMAKER_MODEL_SERVER_WORKERS": "1"}
