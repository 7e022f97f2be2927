"""The review desk: accounts that sign in to the web app, reviews of events, and the audit log of both.

With no account, the web app is as it always was (public pages, the admin token); once one
exists, its pages need a sign-in (tracker.web.auth).
"""
