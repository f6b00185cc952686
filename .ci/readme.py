"""Keep README.md in step with nbs/index.ipynb (nbdev_readme needs Quarto, unavailable here).

  python .ci/readme.py            regenerate README.md from nbs/index.ipynb
  python .ci/readme.py --check    fail if README.md differs from what index.ipynb renders to
  python .ci/readme.py --test-command   print the README's test command (the one .ci/run calls)
  python .ci/readme.py --main-command   print the README's main-job command (.ci/run runs it twice)
"""
import sys, re
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter

ROOT = Path(__file__).resolve().parent.parent

def render() -> str:
    nb = nbformat.read(ROOT / "nbs" / "index.ipynb", as_version=4)
    body, _ = MarkdownExporter().from_notebook_node(nb)
    return body.strip() + "\n"

def block_after(text: str, label: str) -> str:
    "The first code block after the bold `label` in the README."
    m = re.search(r"\*\*" + re.escape(label) + r"\*\*.*?```(?:sh|bash)?\n(.+?)\n```", text, re.S)
    if not m: sys.exit(f"README.md has no '**{label}**' code block")
    return m.group(1).strip()

def test_command(text: str) -> str: return block_after(text, "Every test")
def main_command(text: str) -> str: return block_after(text, "Main job")

if __name__ == "__main__":
    readme = ROOT / "README.md"
    if "--check" in sys.argv:
        if readme.read_text() != render():
            sys.exit("FAIL: README.md is out of date with nbs/index.ipynb; run `python .ci/readme.py`")
        print("README.md matches nbs/index.ipynb")
    elif "--test-command" in sys.argv:
        print(test_command(readme.read_text()))
    elif "--main-command" in sys.argv:
        print(main_command(readme.read_text()))
    else:
        readme.write_text(render()); print("wrote README.md")
