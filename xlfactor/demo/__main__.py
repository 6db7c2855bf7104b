"""``python -m xlfactor.demo``: regenerate the shipped demo snapshot file."""

from xlfactor.demo import DEMO_FILE, write_packaged_demo

if __name__ == "__main__":
    write_packaged_demo()
    print(f"wrote {DEMO_FILE} ({DEMO_FILE.stat().st_size / 1e6:.2f} MB)")
