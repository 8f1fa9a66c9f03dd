"""What drives the core: simulated time on simpy (``_simulated``) and real SIP (``live``)."""
