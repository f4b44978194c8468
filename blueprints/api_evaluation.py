"""(being written)"""

PATHS: dict = {}
SCHEMAS: dict = {}
