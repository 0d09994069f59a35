"""Errors that ital_opt raises on purpose.

`SpecError` is bad input: the command line turns it into exit code 2 with a message that names
the file and the field, and writes nothing.  `MethodNotApplicable` says why a method (usually a
closed form) does not fit a problem.  `SolverUnavailable` names a missing solver and how to
install it.  `OptionError` is an unknown solver or solving option given to ``solve``.
`SolverWarning` is a solver's own doubt about an answer it still calls optimal
(Ipopt's "optimal solution indicated, but error likely"); ``Problem.solve`` puts it in the
result's message.
"""

from __future__ import annotations


class SpecError(ValueError):
    """Bad input in a problem specification, tied to the file and the field.

    The command line prints it (``FILE: field 'NAME': MESSAGE``) and exits with code 2, without
    a traceback.  Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    field : str or None
        The field at fault, as the spec spells it (``prob``, ``theta[2]``, ``params.k``), or
        None for the spec as a whole.
    message : str
        What was given and what was expected.
    source : str, optional
        The spec file (or ``<python>``, ``<dict>``); :meth:`located` fills it in later.
    """

    def __init__(self, field: str | None, message: str, source: str | None = None):
        self.field = field
        self.message = message
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.source or "<spec>"
        if self.field:
            return f"{where}: field '{self.field}': {self.message}"
        return f"{where}: {self.message}"

    def located(self, source: str) -> "SpecError":
        """The same error, attributed to `source` when it had no file yet.

        Parameters
        ----------
        source : str
            The spec file to name.

        Returns
        -------
        SpecError
            This error if it already names a file, else a copy naming `source`.
        """
        return self if self.source else SpecError(self.field, self.message, source)


class OptionError(SpecError):
    """An unknown solver or solving option (bad input: exit code 2 on the command line).

    Raised by :meth:`Problem.solve` and :meth:`Method.call_options`.

    Parameters
    ----------
    field : str or None
        The option at fault (``solver``, or the keyword given).
    message : str
        Why it is refused and what the method takes.
    source : str, optional
        The spec file of the problem being solved.
    """


class MethodNotApplicable(ValueError):
    """A method was asked for that does not apply to this problem.

    Each parameter is kept as the attribute of the same name.

    Parameters
    ----------
    method : str
        The method asked for (``"closed-form"``, ``"auto"``, a formulation's name).
    reason : str
        Why it does not apply: the assumption that fails, or the methods known.
    """

    def __init__(self, method: str, reason: str):
        self.method = method
        self.reason = reason
        super().__init__(f"method '{method}' does not apply: {reason}")


class SolverUnavailable(RuntimeError):
    """A solver that a method needs is not installed.

    Under ``method="auto"`` the next applicable method is tried instead; the error is raised
    when none could run.  Its message names the missing solver and how to install it
    (``pip install ital_opt[nlp]``).
    """


class SolverWarning(UserWarning):
    """A solver returned a point but doubted it (the result's message says so)."""
