"""Chart helpers of the workbooks (openpyxl): bars and lines with legible labels.

Every chart reads its numbers from cells of the workbook (a table on its sheet or a
data sheet), so what is drawn is what the tables say. Axis labels are 9 pt, titles
11 pt; horizontal bar charts list the first table row on top with the category labels
left of the plot (clear of negative bars).
"""

from __future__ import annotations

from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart.axis import DateAxis
from openpyxl.chart.label import DataLabelList
from openpyxl.chart.text import RichText
from openpyxl.chart.text import Text
from openpyxl.chart.title import Title
from openpyxl.drawing.text import CharacterProperties, Paragraph, ParagraphProperties, RegularTextRun, RichTextProperties

LABEL_POINTS = 9
TITLE_POINTS = 11
BAR_COLOR = "1F4E78"
SECOND_COLOR = "ED7D31"
LABEL_ROOM = 0.4  # share of the value range added beyond the longest bar, for its label


def axis_text(points: int, bold: bool = False) -> RichText:
    """Text properties of chart labels: ``points`` high, horizontal."""
    size = int(points * 100)
    props = CharacterProperties(sz=size, b=bold)
    return RichText(bodyPr=RichTextProperties(rot=0, vert="horz", wrap="none"),
                    p=[Paragraph(pPr=ParagraphProperties(defRPr=props), endParaRPr=props)])  # fmt: skip


def set_title(chart, text: str) -> None:
    """The chart's title at ``TITLE_POINTS``, bold."""
    props = CharacterProperties(sz=TITLE_POINTS * 100, b=True)
    paragraph = Paragraph(pPr=ParagraphProperties(defRPr=props), r=[RegularTextRun(rPr=props, t=text)])
    chart.title = Title(tx=Text(rich=RichText(p=[paragraph])), overlay=False)


def _style_axes(chart) -> None:
    chart.x_axis.txPr = axis_text(LABEL_POINTS)
    chart.y_axis.txPr = axis_text(LABEL_POINTS)
    chart.x_axis.delete = False
    chart.y_axis.delete = False


def bar_chart(title: str, bars: int, number_format: str, horizontal: bool = True, width: float = 13.0) -> BarChart:
    """A bar chart sized to its ``bars`` (no legend unless series are added with titles later).

    Horizontal bars list the first table row on top, labels left of the plot.
    """
    chart = BarChart()
    chart.type = "bar" if horizontal else "col"
    set_title(chart, title)
    chart.legend = None
    chart.y_axis.number_format = number_format
    chart.y_axis.majorGridlines = None
    _style_axes(chart)
    chart.x_axis.tickLblPos = "low"  # labels left of (below) the plot, clear of negative bars
    if horizontal:
        chart.x_axis.scaling.orientation = "maxMin"  # first table row on top
    chart.gapWidth = 60
    chart.height, chart.width = max(6.0, 0.5 * bars + 2.0), width
    return chart


def add_series(chart, ws, column: int, first_row: int, last_row: int, categories_column: int, color: str = BAR_COLOR) -> None:
    """Add the values of ``column`` (header in ``first_row``, values below to ``last_row``) with their labels."""
    chart.add_data(Reference(ws, min_col=column, min_row=first_row, max_row=last_row), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=categories_column, min_row=first_row + 1, max_row=last_row))
    series = chart.series[-1]
    series.graphicalProperties.solidFill = color
    series.graphicalProperties.line.solidFill = color
    series.invertIfNegative = False


def value_labels(chart, number_format: str, values=None) -> None:
    """Print each bar's value at its end (8 pt); ``values`` (the bars) widen the value axis so no label meets the category labels."""
    chart.dataLabels = DataLabelList()
    chart.dataLabels.showVal = True
    chart.dataLabels.showSerName = chart.dataLabels.showCatName = chart.dataLabels.showLegendKey = False
    chart.dataLabels.showPercent = chart.dataLabels.showLeaderLines = False
    chart.dataLabels.position = "outEnd"
    chart.y_axis.delete = True  # each bar says its value: no value axis to read across
    if values is not None and len(values):
        low, high = min(0.0, float(min(values))), max(0.0, float(max(values)))
        room = LABEL_ROOM * (high - low)
        chart.y_axis.scaling.min = low - room if low < 0 else 0.0
        chart.y_axis.scaling.max = high + room if high > 0 else 0.0
    chart.dataLabels.numFmt = number_format
    chart.dataLabels.txPr = axis_text(LABEL_POINTS)


def line_chart(title: str, number_format: str, width: float = 13.0, height: float = 6.5) -> LineChart:
    """A line chart over dates (legend at the bottom)."""
    chart = LineChart()
    set_title(chart, title)
    chart.y_axis.number_format = number_format
    chart.y_axis.majorGridlines = None
    _style_axes(chart)
    chart.x_axis.number_format = "yyyy-mm-dd"
    chart.x_axis.tickLblPos = "low"
    chart.legend.position = "b"
    chart.height, chart.width = height, width
    return chart


def date_axis(chart, days: int) -> None:
    """Make the category axis of a line chart a date axis (dates in the category cells), about six labels along it."""
    axis = DateAxis(crossAx=100)
    axis.number_format = "yyyy-mm-dd"
    axis.majorTimeUnit = "days"
    axis.majorUnit = max(1, days * 7 // 5 // 6)  # calendar days between labels (business days x 7/5)
    axis.txPr = axis_text(LABEL_POINTS)
    axis.delete = False
    axis.tickLblPos = "low"
    chart.x_axis = axis
