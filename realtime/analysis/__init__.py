"""The analysis stage: the pipeline that runs detector and classifier over a source's frames
(`StreamAnalyzer`), the face tracks that smooth scores and raise alerts, and the verdict a
video's tracks add up to."""
