"""(filled in by issue 18)"""
