"""The equipment index lives in `events.equipment`, shared with the label service."""

from events.equipment import (
    EXPLANATIONS,
    Equipment,
    equipment_index,
    equipment_of,
    half,
    next_step,
    pupil_classes,
    teacher_classes,
)

__all__ = [
    "EXPLANATIONS",
    "Equipment",
    "equipment_index",
    "equipment_of",
    "half",
    "next_step",
    "pupil_classes",
    "teacher_classes",
]
