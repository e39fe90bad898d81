"""The live stream: frames and audio without end, to HLS and/or RTMP (``sink``), and what feeds it in real time."""
