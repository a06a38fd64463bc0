"""ganeti-compat: a GHC toolchain compatibility matrix runner for Ganeti's Haskell parts."""
