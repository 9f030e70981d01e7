"""Pure domain of intake: validation, references, charter clocks, channels, SMS and voice rules. No I/O."""
