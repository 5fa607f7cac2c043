"""The issue's operations, verbatim but for the ids (``{org}``, ``{asset}``) they leave out."""
# ruff: noqa: E501 - kept as the issue writes them

UPDATE_DRAFT = """mutation { updateThemeDraft(input: {organizationId: "{org}", light: {primary: "#0A66C2", background: "#FFFFFF",
  foreground: "#111827", link: "#0A66C2"}, radius: 8, fontFamily: "Inter", customCss: ".btn { border-radius: 6px }"}) {
  theme { version contrast { pair ratio passes suggestion } } errors { code field message } } }"""
REQUEST_UPLOAD = """mutation { requestThemeAssetUpload(input: {organizationId: "{org}", kind: LOGO, contentType: "image/png", sizeBytes: 20480}) {
  upload { assetId url fields expiresAt } errors { code field message } } }"""
COMPLETE_UPLOAD = """mutation { completeThemeAssetUpload(assetId: "{asset}") { asset { kind width height url } errors { code message } } }"""
DRAFT = """query { organization(id: "{org}") { themeDraft { previewUrl css { url hash } } } }"""
PUBLISH = """mutation { publishTheme(organizationId: "{org}", expectedVersion: 0) { theme { version publishedAt } errors { code message } } }"""
BY_SLUG = """query { themeBySlug(slug: "{slug}") { css { url } logo { url width height } favicon { url } light { primary primaryForeground hover } } }"""


def filled(operation: str, **ids: str) -> str:
    """``operation`` with its ids in place (str.format would trip on the braces of GraphQL)."""
    for name, value in ids.items():
        operation = operation.replace(f"{{{name}}}", value)
    return operation
