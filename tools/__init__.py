"""The tool Lambdas and the store they share.

Each tool is a Lambda-shaped handler answering
``{"statusCode": 200|400|404|409|500, "body": "<one sentence>", "data": {...}}`` and never raising:
orders (``{"orderId"}``, or ``{"customerId"}`` for that customer's orders), returns
(``{"returnId"}``), customers (get_user: ``{"email"}``, ``{"phone"}`` or ``{"username"}``) and
cancel (``{"orderId", "customerId", "idempotencyKey"}``).
"""
