"""claimbook.interactive: Vega-Lite figures that work without a kernel."""

import json
import re

import altair as alt
import pandas as pd
import pytest

from claimbook import interactive as ia
from tests.conftest import ROOT


def _chart(values=(1, 2, 3)):
    df = pd.DataFrame({"x": [1, 2, 3], "y": list(values)})
    pick = alt.param(name="k", value=1, bind=alt.binding_range(min=1, max=3, step=1))
    return (
        alt.Chart(df)
        .mark_line()
        .encode(x="x:Q", y="y:Q")
        .add_params(pick)
        .transform_filter(alt.datum.x >= pick)
    )


def test_bundle_carries_the_spec_html_and_alt_text():
    fig = ia.interactive(_chart(), alt="  y against x  ")
    b = fig._repr_mimebundle_()
    assert set(b) == {"text/html", "text/plain"}  # the spec travels once
    assert b["text/plain"] == "[interactive figure] y against x"
    html = b["text/html"]
    m = re.search(
        r'<script type="application/json" class="claimbook-vega-spec">(.*?)</script>',
        html,
        re.S,
    )
    assert json.loads(m.group(1)) == _chart().to_dict()
    assert 'aria-label="y against x"' in html
    assert f'id="{fig.id}"' in html
    assert f'getElementById("{fig.id}")' in html


def test_output_is_deterministic_and_follows_the_data():
    a = ia.interactive(_chart(), alt="a")._repr_mimebundle_()
    b = ia.interactive(_chart(), alt="a")._repr_mimebundle_()
    assert a == b  # no random element ids: strict nbval sees the same output
    c = ia.interactive(_chart((1, 2, 4)), alt="a")
    assert c.id != ia.interactive(_chart(), alt="a").id


def test_script_end_tag_in_data_cannot_close_the_spec_early():
    spec = _chart().to_dict()
    spec["title"] = "</script><b>x</b>"
    html = ia.interactive(spec, alt="a").html()
    body = html.split('class="claimbook-vega-spec">', 1)[1].split("</script>", 1)[0]
    assert json.loads(body)["title"] == "</script><b>x</b>"


def test_bad_input_is_refused():
    with pytest.raises(ia.InteractiveError, match="alt text"):
        ia.interactive(_chart(), alt=" ")
    with pytest.raises(ia.InteractiveError, match=r"\$schema"):
        ia.interactive({"mark": "line"}, alt="a")
    with pytest.raises(ia.InteractiveError, match="not a Vega-Lite"):
        ia.interactive({"$schema": "https://vega.github.io/schema/vega/v6.json"}, "a")


def test_versions_outside_the_book_are_the_ones_the_site_serves():
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]
    assert pinned["vega"] == ia.VEGA
    assert pinned["vega-lite"] == ia.VEGA_LITE
    assert pinned["vega-embed"] == ia.VEGA_EMBED
    # the site's vega-lite reads the specs this Altair writes (the same major; at the
    # lock, the same minor too)
    assert alt.SCHEMA_VERSION.lstrip("v").split(".")[0] == ia.VEGA_LITE.split(".")[0]
