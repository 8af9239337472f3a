"""What every function's handler shares: settings, the HTTP resolver, EMF metrics and adapter wiring."""
