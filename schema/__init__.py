"""marshmallow schemas of every API request and response (the OpenAPI document is built from them).

``common`` holds the shared fields and the error body; one module per resource family.
Request schemas reject unknown fields (``RAISE``); query schemas ignore them.
"""
