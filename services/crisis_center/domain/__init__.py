"""Pure domain of the crisis center: geography, affected people, activation rules, CAP and Atom builders."""
