"""The browser tests reuse the integration fixtures (a throwaway
redis-server and a real tallyd), loaded under another module name because
both files are called conftest.py."""
import importlib.util
import os
import sys

_path = os.path.join(os.path.dirname(__file__), "..", "integration", "conftest.py")
_spec = importlib.util.spec_from_file_location("integration_conftest", _path)
integration = importlib.util.module_from_spec(_spec)
sys.modules["integration_conftest"] = integration
_spec.loader.exec_module(integration)

redis_server = integration.redis_server
tally = integration.tally
