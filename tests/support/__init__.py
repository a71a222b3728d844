"""What tests share: clocks, worlds, example fixtures, waiting helpers; no test imports another test."""
