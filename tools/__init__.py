"""The returns and orders tool Lambdas, and the store they read.

Each tool is a Lambda-shaped handler: ``{"orderId": "..."}`` or ``{"returnId": "..."}`` in,
``{"statusCode": 200|400|404|500, "body": "<one sentence>", "data": {...}}`` out.
"""
