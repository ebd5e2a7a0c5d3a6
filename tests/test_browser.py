"""The chapters' widgets, driven in JupyterLab in a real browser, the way a learner uses them.

The test starts JupyterLab on 127.0.0.1 (random token, free port) over a temporary copy of the chapter, opens it in
Chromium through Playwright, runs all cells from the Run menu, works the widget's controls with the mouse and the
keyboard (drags sliders, chooses from menus, types a sentence), and checks that what the page shows changed and that
no output is an error. Screenshots before and after go to test-artifacts/browser/.

Needs Chromium (Debian's, /usr/bin/chromium, or $CHROMIUM_PATH) and the `playwright` package: scripts/install_browser.sh.
Marked `browser`: select with `-m browser`, leave out with `-m "not browser"`.
"""
from __future__ import annotations
import importlib.util, json, os, re, secrets, signal, socket, subprocess, sys, time, urllib.request
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT/'test-artifacts'/'browser'
CHROMIUM = os.environ.get('CHROMIUM_PATH', '/usr/bin/chromium')
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update']
SECOND = 1000  # Playwright counts milliseconds
RUN_ALL_TIMEOUT = 10*60*SECOND  # a chapter's cells, gated cells left out, on a slow shared machine
UI_TIMEOUT = 60*SECOND  # one step of the page: a menu, a kernel start, a redraw

_spec = importlib.util.spec_from_file_location('bench_chapters', ROOT/'scripts'/'bench_chapters.py')
bench = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(bench)

pytestmark = pytest.mark.browser


@dataclass
class WidgetCase:
    """A chapter's widget, what a learner does to its controls (one after the other) and what must change on the page
    each time: the widget's printed line (its first Label) and, with `plot`, the image in its output. An action is
    `('drag', slider)`, `('check', checkbox)`, `('choose', dropdown, option)`, `('toggle', multi-select, option)`
    (Ctrl+click) or `('type', text box, text)` (then Enter); the control is named by its description."""
    chapter: str  # notebook file in nbs/
    actions: list[tuple]  # what to do, in order
    text: str  # regex the printed line matches once every action is done
    plot: bool = True  # the widget's figure must change too (and not be blank)
    follows: str = ''  # regex whose group 1 in the printed line is the value of the first slider dragged


CASES = [
    WidgetCase('00_temperature.ipynb', actions=[('drag', 'T'), ('check', 'log scale')],
               text=r'^T = .*entropy = \d.*log scale', follows=r'^T = (\S+)'),
    # chapter 02 ends with every weight at 0 (its own check of that message): move alpha_ce first, then T
    WidgetCase('02_losses.ipynb', actions=[('drag', 'alpha_ce'), ('drag', 'T'), ('drag', '[MASK]'),
                                           ('choose', 'soft loss', 'masked only')],
               text=r'^T = .*total = \d.*soft loss on masked tokens only'),
    WidgetCase('03_student.ipynb',
               actions=[('choose', 'preset', 'first half'), ('toggle', 'teacher layers', 'layer 5')], text=r'^layers \[0, 1, 2, 5\]'),
    WidgetCase('04_data.ipynb', actions=[('drag', 'mlm_probability'), ('drag', 'smoothing'),
                                         ('type', 'sentence', 'A student learns from its teacher.')],
               text=r'^sentence: \d+ \[MASK\]'),
    WidgetCase('07_ablation.ipynb', actions=[('choose', 'measure', 'agreement'), ('toggle', 'runs', 'random init')],
               text=r'^agreement: '),
    WidgetCase('08_task.ipynb', actions=[('drag', 'T'), ('drag', 'alpha')],
               text=r'^T = \d+, alpha = [\d.]+: test accuracy \d', follows=r'^T = (\d+)'),
    WidgetCase('10_causal.ipynb', actions=[('drag', 'T')], text=r'^T = .*next: .*entropy', follows=r'^T = (\S+)'),
]
DRAG_PIXELS = 40  # how far each slider's handle is dragged, towards the side of its track with more room


# ---------------------------------------------------------------------------------------------------------------------
# JupyterLab, started and stopped by the test

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _lab_settings(path: Path):
    "User settings of the test's JupyterLab: every cell in the page, and no requests for news or updates."
    settings = {'@jupyterlab/notebook-extension/tracker': {'windowingMode': 'none'},
                '@jupyterlab/apputils-extension/notification': {'fetchNews': 'false', 'checkForUpdates': False}}
    for name, values in settings.items():
        file = path/f'{name}.jupyterlab-settings'
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(values))


class Lab:
    "A JupyterLab server on 127.0.0.1 over `root`, with a random token; `stop` shuts it and its kernels down."
    def __init__(self, root: Path, home: Path):
        self.root, self.port, self.token = root, _free_port(), secrets.token_hex(24)
        _lab_settings(home/'settings')
        env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'JUPYTER_CONFIG_DIR': str(home/'config'),
               'JUPYTER_RUNTIME_DIR': str(home/'runtime')}
        env.pop('MPLBACKEND', None)  # the kernel's own inline backend, as a learner has
        cmd = [sys.executable, '-m', 'jupyter', 'lab', '--no-browser', '--ip=127.0.0.1', f'--port={self.port}',
               '--port-retries=0', f'--IdentityProvider.token={self.token}', f'--ServerApp.root_dir={root}',
               f'--LabApp.user_settings_dir={home/"settings"}', f'--LabApp.workspaces_dir={home/"workspaces"}',
               '--LabApp.news_url=', '--LabApp.extension_manager=readonly', '--ServerApp.terminals_enabled=False']
        if hasattr(os, 'geteuid') and os.geteuid() == 0: cmd.append('--allow-root')  # CI containers run as root
        self.log = open(home/'jupyterlab.log', 'w')
        self._stop_on_sigterm()
        self.process = subprocess.Popen(cmd, cwd=root, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)  # its own process group: the kernels stop with it
        self.wait_ready()

    def _stop_on_sigterm(self):
        "A SIGTERM to the test run (a CI timeout) still shuts the server down: it unwinds the test like Ctrl+C."
        import threading
        self._previous_handler = None
        if threading.current_thread() is threading.main_thread():
            def interrupt(signum, frame): raise KeyboardInterrupt(f'signal {signum}')
            self._previous_handler = signal.signal(signal.SIGTERM, interrupt)

    @property
    def url(self): return f'http://127.0.0.1:{self.port}'

    def api(self, path: str, method: str = 'GET'):
        request = urllib.request.Request(f'{self.url}/api/{path}', method=method,
                                         headers={'Authorization': f'token {self.token}'})
        with urllib.request.urlopen(request, timeout=10) as response: return response.read()

    def wait_ready(self, timeout: float = 120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f'JupyterLab exited with {self.process.returncode}: {Path(self.log.name).read_text()[-3000:]}')
            try: self.api('status'); return
            except OSError: time.sleep(0.5)
        self.stop()
        raise RuntimeError(f'JupyterLab did not answer in {timeout} s: {Path(self.log.name).read_text()[-3000:]}')

    def stop(self):
        if self.process.poll() is None:
            try: self.api('shutdown', 'POST')  # shuts its kernels down, then itself
            except OSError: pass
            try: self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGTERM)
                try: self.process.wait(timeout=15)
                except subprocess.TimeoutExpired: os.killpg(self.process.pid, signal.SIGKILL); self.process.wait()
        try: os.killpg(self.process.pid, signal.SIGTERM)  # a kernel left behind in the server's group
        except ProcessLookupError: pass
        self.log.close()
        if self._previous_handler is not None: signal.signal(signal.SIGTERM, self._previous_handler)


def _chapter_copy(chapter: str, root: Path) -> Path:
    """The chapter as a learner opens it, in `root` (a copy, so nothing is written into the repository): outputs cleared,
    so all that the page shows comes from this run, and cells gated by a test flag (`#| slow`, `#| gpu`) left out."""
    nb, _ = bench.runnable(ROOT/'nbs'/chapter, bench.skipped_flags(os.environ.get('CHAPTER_FLAGS', '')))
    for cell in nb.cells:
        if cell.cell_type == 'code': cell.outputs, cell.execution_count = [], None
    nb.metadata.pop('widgets', None)
    path = root/chapter
    nbformat.write(nb, path)
    return path


# ---------------------------------------------------------------------------------------------------------------------
# The page

_ALL_RUN_OR_FAILED = """(codeCells) => {
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea .jp-InputPrompt')]
    .map(p => p.textContent.trim());
  if (prompts.length !== codeCells || prompts.some(p => p.includes('*'))) return false;
  // JupyterLab renders an error output as stderr text holding the traceback; the cells after it are not run
  const failed = [...document.querySelectorAll('.jp-Notebook .jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]')]
    .some(e => (e.textContent || '').includes('Traceback'));
  return failed || prompts.every(p => /\\[\\d+\\]/.test(p));
}"""

_ERRORS_ON_PAGE = """() => {
  const found = [];
  for (const el of document.querySelectorAll('.jp-Notebook .jp-RenderedText')) {
    const mime = el.getAttribute('data-mime-type') || '';
    const text = el.textContent || '';
    if (mime.endsWith('.error') || (mime.endsWith('.stderr') && /Traceback|^\\w*Error\\b/m.test(text)))
      found.push(text.slice(0, 400));
  }
  for (const el of document.querySelectorAll('.jp-Notebook .jupyter-widgets'))
    if (/^(Error displaying widget|Error rendering)/.test((el.textContent || '').trim()))
      found.push('widget: ' + el.textContent.trim().slice(0, 200));
  return found;
}"""


def _step(message: str):
    "Progress of the test, with the time (shown by pytest with -s, or with the output of a failed test)."
    print(time.strftime('%H:%M:%S'), message, flush=True)


def _open_and_run_all(page, lab: Lab, notebook: Path):
    from playwright.sync_api import expect
    _step(f'open {notebook.name}')
    page.goto(f'{lab.url}/lab/tree/{notebook.name}?token={lab.token}', wait_until='domcontentloaded', timeout=UI_TIMEOUT*2)
    code_cells = sum(c.cell_type == 'code' for c in nbformat.read(notebook, as_version=4).cells)
    expect(page.locator('.jp-Notebook .jp-CodeCell')).to_have_count(code_cells, timeout=UI_TIMEOUT*2)
    _wait_kernel_idle(page, UI_TIMEOUT*2)
    _step('kernel idle: Run > Run All Cells')
    page.locator('.lm-MenuBar-item', has_text=re.compile(r'^Run$')).click()
    page.locator('.lm-Menu-item:not(.lm-mod-hidden)', has_text=re.compile(r'^Run All Cells')).click()
    # the run has started: a cell is queued or running, or already numbered
    page.wait_for_function("""() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
        .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))""", timeout=UI_TIMEOUT, polling=250)
    page.wait_for_function(_ALL_RUN_OR_FAILED, arg=code_cells, timeout=RUN_ALL_TIMEOUT, polling=500)
    _wait_kernel_idle(page, UI_TIMEOUT)
    _step('all cells ran')


def _wait_kernel_idle(page, timeout):
    """The kernel is connected and idle: the status bar reads `Python 3 (ipykernel) | Idle` (before the kernel has
    started it reads Starting, Connecting or Unknown) and the notebook's execution indicator is idle."""
    from playwright.sync_api import expect
    expect(page.locator('.jp-StatusBar-TextItem', has_text=re.compile(r'\|\s*Idle\s*$'))).to_have_count(1, timeout=timeout)
    expect(page.locator('.jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator')).to_have_attribute(
        'data-status', 'idle', timeout=timeout)


CONTROLS = {'drag': '.widget-slider', 'check': '.widget-checkbox', 'choose': '.widget-dropdown',
            'toggle': '.widget-select-multiple', 'type': '.widget-text'}  # action -> the class of its control


def _widget(page, actions: list[tuple]):
    "The output that shows a widget with the controls of all these actions (exactly one)."
    from playwright.sync_api import expect
    area = page.locator('.jp-Notebook .jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output')
    for kind, description, *_ in actions: area = area.filter(has=_control_in(page, kind, description))
    expect(area).to_have_count(1, timeout=UI_TIMEOUT)
    return area


def _control_in(page, kind: str, description: str, scope=None):
    "The control that `kind` acts on, with this description, in `scope` (default: the page)."
    # a checkbox's description is in a `label.widget-label-basic` around its box, the others' in a `.widget-label`
    named = re.compile(rf'^\s*{re.escape(description)}\s*$')
    label = page.locator('.widget-label, .widget-label-basic', has_text=named)
    return (scope or page).locator(CONTROLS[kind]).filter(has=label)


def _control_value(control, kind: str) -> str:
    "What the control shows as its value: a slider's readout, the chosen option(s), the text in the box."
    if kind == 'drag': return control.locator('.widget-readout').inner_text()
    if kind == 'type': return control.locator('input').input_value()
    if kind == 'check': return str(control.locator('input').is_checked())
    return control.locator('select').evaluate("s => [...s.selectedOptions].map(o => o.textContent.trim()).join('|')")


def _act(page, control, kind: str, *argument):
    "Do the action to the control, with the mouse or the keyboard."
    if kind == 'drag': _drag(page, control)
    elif kind == 'check': control.locator('input').click()
    elif kind == 'choose': control.locator('select').select_option(label=argument[0])
    elif kind == 'toggle':
        words = r'\s+'.join(map(re.escape, argument[0].split()))  # ipywidgets writes the spaces of an option as nbsp
        option = control.locator('option', has_text=re.compile(rf'^\s*{words}\s*$'))
        option.scroll_into_view_if_needed()
        option.click(modifiers=['Control'])
    elif kind == 'type':
        box = control.locator('input')
        box.click()
        box.fill(argument[0])
        box.press('Enter')
    else: raise ValueError(f'unknown action {kind!r}')


def _drag(page, slider, pixels: int = DRAG_PIXELS):
    "Drag the slider's handle `pixels` with the mouse (press, move in small steps, release), towards the farther end."
    handle, track = slider.locator('.noUi-handle'), slider.locator('.noUi-base')
    handle.scroll_into_view_if_needed()
    box, line = handle.bounding_box(), track.bounding_box()
    x, y = box['x'] + box['width']/2, box['y'] + box['height']/2
    direction = 1 if x < line['x'] + line['width']/2 else -1
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + direction*pixels, y, steps=12)
    page.mouse.up()


def _printed_line(widget):
    "The widget's first Label (a `div.widget-label`; a slider's description is a `label.widget-label`)."
    return widget.locator('div.widget-label').first


def _html_text(widget) -> str | None:
    "The text of the widget's HTML view, if it has one."
    view = widget.locator('.widget-html').first
    return view.inner_text() if view.count() else None


def _figure(widget):
    return widget.locator('img').first  # in an Output widget, or an Image widget


def _figure_src(widget) -> str | None:
    figure = _figure(widget)
    return figure.get_attribute('src') if figure.count() else None


def _figure_is_blank(widget) -> bool:
    "Whether the widget's figure, as the page shows it, is one flat colour (a figure shown before anything was drawn on it)."
    import base64, io
    from PIL import Image
    data_url = _figure(widget).evaluate("""async img => { await img.decode(); const canvas = document.createElement('canvas');
        canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
        canvas.getContext('2d').drawImage(img, 0, 0); return canvas.toDataURL('image/png'); }""")
    image = Image.open(io.BytesIO(base64.b64decode(data_url.split(',', 1)[1]))).convert('L')
    low, high = image.getextrema()
    return high - low < 16


def _wait_until(condition, timeout_ms: int, what: str):
    deadline = time.monotonic() + timeout_ms/SECOND
    while not condition():
        if time.monotonic() > deadline: raise AssertionError(f'timed out after {timeout_ms/SECOND:.0f} s waiting for {what}')
        time.sleep(0.25)


def _save_notebook_and_check(page, notebook: Path):
    "Save from the page (Ctrl+S) and read the file JupyterLab wrote: no cell holds an error output."
    from playwright.sync_api import expect
    before = notebook.stat().st_mtime_ns
    page.locator('.jp-Notebook').first.click(position={'x': 5, 'y': 5})
    page.keyboard.press('Escape')
    page.keyboard.press('Control+s')
    deadline = time.monotonic() + 60
    while notebook.stat().st_mtime_ns == before and time.monotonic() < deadline: time.sleep(0.5)
    assert notebook.stat().st_mtime_ns != before, 'JupyterLab did not save the notebook'
    errors = bench.error_outputs(nbformat.read(notebook, as_version=4))
    assert not errors, f'{notebook.name}, saved by JupyterLab after the run, holds errors:\n' + '\n'.join(errors)


# ---------------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def browser():
    try: from playwright.sync_api import sync_playwright
    except ImportError: pytest.fail('the playwright package is missing: run scripts/install_browser.sh', pytrace=False)
    if not Path(CHROMIUM).exists(): pytest.fail(f'no Chromium at {CHROMIUM}: run scripts/install_browser.sh', pytrace=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.mark.parametrize('case', CASES, ids=lambda c: Path(c.chapter).stem)
def test_widget_responds_to_controls(case: WidgetCase, browser, tmp_path):
    from playwright.sync_api import expect
    if not (ROOT/'nbs'/case.chapter).exists():
        pytest.skip(f'nbs/{case.chapter} does not exist yet')
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = Path(case.chapter).stem
    for old in ARTIFACTS.glob(f'{name}-*.png'): old.unlink()
    root, home = tmp_path/'nbs', tmp_path/'lab'
    root.mkdir(); home.mkdir()
    notebook = _chapter_copy(case.chapter, root)
    lab = Lab(root, home)
    page = browser.new_page(viewport={'width': 1400, 'height': 1000})
    page.set_default_timeout(UI_TIMEOUT)
    try:
        _open_and_run_all(page, lab, notebook)
        errors = page.evaluate(_ERRORS_ON_PAGE)
        assert not errors, f'{case.chapter}: error outputs after Run All Cells:\n' + '\n\n'.join(errors)

        widget = _widget(page, case.actions)
        line = _printed_line(widget)
        line.wait_for(state='visible', timeout=UI_TIMEOUT)
        widget.scroll_into_view_if_needed()
        widget.screenshot(path=ARTIFACTS/f'{name}-before.png')
        if case.plot:
            _wait_until(lambda: _figure_src(widget) is not None, UI_TIMEOUT, 'the figure')
            assert not _figure_is_blank(widget), (
                f'{case.chapter}: after Run All Cells the widget shows a blank figure. Its callbacks run on a kernel subshell '
                'thread (ipykernel 7 + JupyterLab 4.6) while later cells run on the main thread, and pyplot\'s global state '
                'is shared between them: draw with matplotlib.figure.Figure into an ipywidgets.Image, not pyplot in an Output')

        first_slider = next((a[1] for a in case.actions if a[0] == 'drag'), None)
        for kind, description, *argument in case.actions:
            control = _control_in(page, kind, description, widget)
            value_before, line_before = _control_value(control, kind), line.inner_text()
            figure_before, page_before = _figure_src(widget), _html_text(widget)
            _step(f'{kind} {description} {argument or ""} (was {value_before!r})')
            _act(page, control, kind, *argument)
            _wait_until(lambda: _control_value(control, kind) != value_before, UI_TIMEOUT,
                        f'{description} to change')  # the control took the action
            expect(line).not_to_have_text(line_before, timeout=UI_TIMEOUT*2)  # the kernel recomputed the printed line
            if kind == 'type':  # a new sentence redraws the widget's HTML view; its figure is of the sample, not the sentence
                _wait_until(lambda: _html_text(widget) not in (None, page_before), UI_TIMEOUT*2,
                            f'the HTML view to change after typing in {description}')
            elif case.plot:
                _wait_until(lambda: _figure_src(widget) not in (None, figure_before), UI_TIMEOUT*2,
                            f'the figure to change after the {kind} of {description}')
            _wait_kernel_idle(page, UI_TIMEOUT*2)
            if case.follows and description == first_slider:
                # a continuous slider sends values while it moves: the line ends on the value the slider stopped at
                readout = control.locator('.widget-readout')
                def follows():
                    shown = re.search(case.follows, line.inner_text())
                    return bool(shown) and float(shown.group(1)) == pytest.approx(float(readout.inner_text()), rel=1e-2)
                _wait_until(follows, UI_TIMEOUT, f'the printed line to show the slider value {readout.inner_text()}')
        expect(line).to_have_text(re.compile(case.text), timeout=UI_TIMEOUT)
        if case.plot:
            _wait_until(lambda: _figure_src(widget) is not None, UI_TIMEOUT, 'the figure')
            assert not _figure_is_blank(widget), f'{case.chapter}: the widget drew a blank figure'
        widget.scroll_into_view_if_needed()
        widget.screenshot(path=ARTIFACTS/f'{name}-after.png')
        page.screenshot(path=ARTIFACTS/f'{name}-page-after.png')

        errors = page.evaluate(_ERRORS_ON_PAGE)
        assert not errors, f'{case.chapter}: error outputs after moving the sliders:\n' + '\n\n'.join(errors)
        _save_notebook_and_check(page, notebook)
        _step('saved and checked')
    except Exception:
        page.screenshot(path=ARTIFACTS/f'{name}-failure.png')
        raise
    finally:
        lab.stop()
        try: page.close()
        except Exception: pass  # the browser may be gone already (interrupted run)


def test_exercises_in_jupyterlab(browser, tmp_path):
    """Chapter 00's exercises as a learner meets them in JupyterLab, with no extension: a predict-then-reveal answer is
    collapsed until its summary is clicked; a code exercise left as it is says "not yet"; the same cell with the
    reference solution written in says "right"."""
    from playwright.sync_api import expect
    chapter = '00_temperature.ipynb'
    root, home = tmp_path/'nbs', tmp_path/'lab'
    root.mkdir(); home.mkdir()
    notebook = _chapter_copy(chapter, root)
    nb = nbformat.read(notebook, as_version=4)
    entropy_cell = next(c for c in nb.cells if c.cell_type == 'code' and "check('00.4'" in c.source)
    entropy_cell.source = ('def my_entropy(probs):\n    return -torch.xlogy(probs, probs).sum(-1)\n\n'
                           "check('00.4', my_entropy)")  # what a learner who solved it writes
    nbformat.write(nb, notebook)
    lab = Lab(root, home)
    page = browser.new_page(viewport={'width': 1400, 'height': 1000})
    page.set_default_timeout(UI_TIMEOUT)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        _open_and_run_all(page, lab, notebook)
        answer = page.locator('.jp-MarkdownOutput details').filter(has_text='Exercise 00.1').first
        if not answer.count():  # the <details> is its own element inside the cell's rendered markdown
            answer = page.locator('.jp-MarkdownCell', has_text='Exercise 00.1').locator('details').first
        answer.scroll_into_view_if_needed()
        assert answer.evaluate('d => d.open') is False, 'the answer is shown before it is asked for'
        answer.locator('summary').click()
        _wait_until(lambda: answer.evaluate('d => d.open'), UI_TIMEOUT, 'the answer to open')
        expect(answer).to_contain_text('2.72')
        outputs = page.locator('.jp-OutputArea-output')
        expect(outputs.filter(has_text='Exercise 00.2 (softened softmax): not yet')).to_have_count(1)
        expect(outputs.filter(has_text='Exercise 00.4 (entropy, 0 log 0 = 0): right')).to_have_count(1)
        page.screenshot(path=ARTIFACTS/'00_temperature-exercises.png')
    except Exception:
        page.screenshot(path=ARTIFACTS/'00_temperature-exercises-failure.png')
        raise
    finally:
        lab.stop()
        try: page.close()
        except Exception: pass
