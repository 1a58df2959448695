"""What the emulator knows about Depot: its records, its rules, its services."""
