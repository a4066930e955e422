"""``balancerctl``: the operator's command (:mod:`.cli`) and the drain follower behind ``drain --wait``
(:mod:`.drainwatch`)."""
