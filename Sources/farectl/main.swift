print("farectl")
