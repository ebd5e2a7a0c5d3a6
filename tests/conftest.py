"Markers of the test suite: the slow end-to-end checks can be selected or left out with -m."


def pytest_configure(config):
    config.addinivalue_line('markers', 'chapters: executes every chapter in a fresh Jupyter kernel (minutes)')
    config.addinivalue_line('markers', 'browser: drives JupyterLab in Chromium with Playwright')
