"""Small Hackage-style sdists written for the tests (NAME-VERSION.tar.gz holding NAME-VERSION/NAME.cabal)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path


def write_sdist(directory: Path, ident: str, files: dict[str, str]) -> Path:
    """`files` are paths inside the package (e.g. "demo.cabal", "src/Demo.hs") with their text."""
    path = directory / f"{ident}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{ident}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


# Two packages whose names sort against their install order: compat-alpha needs compat-zeta. Alpha's
# automatic flag asks for a package nothing provides, so Setup configure (as the reader) must turn it off;
# zeta is written in the braces layout some sdists of GHC 7's era use.
ZETA = {
    "compat-zeta.cabal": """name: compat-zeta
version: 0.1
cabal-version: >= 1.10
build-type: Simple
library {
  exposed-modules: Zeta
  build-depends: base >= 4 && < 5
  default-language: Haskell2010
}
""",
    "Zeta.hs": 'module Zeta (greeting) where\n\ngreeting :: String\ngreeting = "hello from compat-zeta"\n',
}
ALPHA = {
    "compat-alpha.cabal": """name: compat-alpha
version: 1.0
cabal-version: >= 1.10
build-type: Simple
-- Off by default would be the usual way; on by default tests that configure turns it off.
flag fancy
  description: needs a package nobody has
  default: True
library
  exposed-modules: Alpha
  hs-source-dirs: src
  build-depends: base >= 4 && < 5,
                 compat-zeta >= 0.1 && < 0.2
  if flag(fancy)
    build-depends: compat-nowhere
  default-language: Haskell2010
executable compat-alpha
  main-is: Main.hs
  hs-source-dirs: app
  build-depends: base, compat-alpha
  default-language: Haskell2010
test-suite never-built
  type: exitcode-stdio-1.0
  main-is: Test.hs
  build-depends: base, compat-unknown-test-library
""",
    "src/Alpha.hs": "module Alpha (message) where\n\nimport Zeta (greeting)\n\nmessage :: String\nmessage = greeting ++ \" via compat-alpha\"\n",
    "app/Main.hs": "import Alpha (message)\n\nmain :: IO ()\nmain = putStrLn message\n",
}
